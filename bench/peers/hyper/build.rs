// Records the hyper, tokio and rustc versions in the binary (the JSON's
// "build"), as bench/peers/tokio/build.rs does.
use std::process::Command;

fn locked(lock: &str, name: &str) -> String {
    let mut inside = false;
    let want = format!("name = \"{}\"", name);
    for line in lock.lines() {
        if line.starts_with("name = ") {
            inside = line == want;
        } else if inside && line.starts_with("version = ") {
            return line.trim_start_matches("version = ").trim_matches('"').to_string();
        }
    }
    "unknown".to_string()
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let lock = std::fs::read_to_string(format!("{}/Cargo.lock", dir)).unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let v = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "rustc unknown".into());
    println!("cargo:rustc-env=HYPER_VERSION={}", locked(&lock, "hyper"));
    println!("cargo:rustc-env=TOKIO_VERSION={}", locked(&lock, "tokio"));
    println!("cargo:rustc-env=RUSTC_VERSION={}", v);
    println!("cargo:rerun-if-changed=Cargo.lock");
}
