// SPDX-License-Identifier: MIT
// weft from C++: the umbrella header gives C linkage (its extern "C"
// block), so a C++ program links against libweft and calls it. Needs no
// io_uring.
#include <weft.h>

#include <cstdio>
#include <cstring>

int main()
{
	weft_config cfg;
	weft_config_init(&cfg);
	const char *msg = weft_strerror(WEFT_ENOURING);
	if (cfg.size != sizeof(cfg) || !msg || !std::strstr(msg, "io_uring")) {
		std::fprintf(stderr, "unexpected: size %zu, message %s\n", cfg.size, msg ? msg : "(null)");
		return 1;
	}
	if (weft_current_runtime() != nullptr || weft_current_task() != nullptr)
		return 1;
	std::printf("C++ linked: %s\n", msg);
	return 0;
}
