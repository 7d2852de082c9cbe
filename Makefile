# Convenience targets; each is one of the scripts in scripts/ (which work without make too).
.PHONY: demo test test-fast build bench fuzz clean
demo: ; scripts/demo
test: ; scripts/test
test-fast: ; scripts/test --fast
build: ; scripts/install-deps && cmake --preset release && cmake --build --preset release
bench: build ; bench/run-peers.sh
fuzz: ; scripts/fuzz
clean: ; rm -rf build
