# The two commands of the README: `make run` and `make test`. Everything else
# is a helper they call. CMake does the real build.
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: run test build build-asan setup bench fuzz clean format format-check

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLLMUX_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

run: build
	./build/llmux serve $(ARGS)

test: build-asan
	@bash scripts/test.sh build-asan

bench: build
	@bash bench/run.sh build

fuzz: setup
	@bash scripts/fuzz.sh build-fuzz

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
