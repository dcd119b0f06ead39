// Records the tokio and rustc versions in the binary (the JSON's "build").
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let lock = std::fs::read_to_string(format!("{}/Cargo.lock", dir)).unwrap_or_default();
    let mut tokio = "unknown".to_string();
    let mut in_tokio = false;
    for line in lock.lines() {
        if line.starts_with("name = ") {
            in_tokio = line == "name = \"tokio\"";
        } else if in_tokio && line.starts_with("version = ") {
            tokio = line.trim_start_matches("version = ").trim_matches('"').to_string();
            in_tokio = false;
        }
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let v = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "rustc unknown".into());
    println!("cargo:rustc-env=TOKIO_VERSION={}", tokio);
    println!("cargo:rustc-env=RUSTC_VERSION={}", v);
    println!("cargo:rerun-if-changed=Cargo.lock");
}
