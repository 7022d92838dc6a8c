# Thin wrapper: the real build is CMake in build/. See README.md.
#   make        install missing Debian packages, build build/vsmp-vmm
#   make check  every test: unit + integration, ASan/UBSan unit tests, the ThreadSanitizer
#               memtest and replicas run, fuzzers (bounded)
#   make stress minutes of memtest on 3 local nodes, several seeds (not part of check)
#   make fuzz-cpu  a million differential cases: the interpreter against this host's CPU
#   make demo   the main job: Debian's stock Linux across 3 local node processes, one NUMA
#               node each, printing what it sees and running parallel programs across them
#   make demo-testguest  the freestanding test guest across 3 local node processes
#   make linux-shell     an interactive busybox shell on the 3-node Linux guest (exit: power-off)
#   make linux-check     the longer Linux guest runs (tests/linux_check.sh; not part of check)
BUILD   ?= build
JOBS    ?= $(shell nproc)
CTEST   := ctest --output-on-failure --no-tests=error

.PHONY: all deps build check check-unit check-sanitize check-tsan check-fuzz demo demo-testguest \
	linux-shell linux-check stress bench fuzz-cpu clean

all: build

deps:
	@.ci/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@[ -f $(BUILD)/cluster.key ] || $(BUILD)/vsmp-vmm keygen $(BUILD)/cluster.key

check: build check-sanitize check-tsan check-fuzz
	cd $(BUILD) && $(CTEST) -j 1

check-sanitize: deps
	@cmake -S . -B $(BUILD)-asan -DVSMP_SANITIZE=address,undefined >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && $(CTEST) -L unit

# clang: with gcc's libtsan every node crashes when a thread exits (glibc madvises the dead
# thread's stack, UCX's libucm hooks madvise, and libtsan's rwlock interceptor then runs for a
# thread libtsan has already finished). Only vsmp-vmm (and the test guest it runs, which is not
# instrumented) is built: Criterion cannot run under TSan.
check-tsan: deps
	@cmake -S . -B $(BUILD)-tsan -DVSMP_SANITIZE=thread -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(BUILD)-tsan -j $(JOBS) --target vsmp-vmm testguest
	cd $(BUILD)-tsan && $(CTEST) -L tsan

check-fuzz: deps
	@cmake -S . -B $(BUILD)-fuzz -DVSMP_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(BUILD)-fuzz -j $(JOBS)
	cd $(BUILD)-fuzz && $(CTEST) -L fuzz

# $(call linux_3node,NAME,MKINITRAMFS-ARGS): configs/linux-3node.toml (Debian's kernel on
# 3 local nodes) with an initramfs of its own, as $(LINUX)/NAME.toml and NAME.cpio, on ports
# 7310-7312; then runs it.
LINUX := $(BUILD)/linux
define linux_3node
	firmware/linux/fetch-kernel.sh >/dev/null
	firmware/linux/mkinitramfs.sh $(2) -o $(LINUX)/$(1).cpio >/dev/null
	sed -e 's#"\.\./build/linux/initramfs\.cpio"#"$(1).cpio"#' -e 's#"\.\./build/linux/#"#' \
		-e 's#"\.\./build/#"../#' -e 's#127\.0\.0\.1:711#127.0.0.1:731#' \
		configs/linux-3node.toml >$(LINUX)/$(1).toml
	$(BUILD)/vsmp-vmm --config $(LINUX)/$(1).toml
endef

DEMO_RUN := echo "DEMO: one Linux on 3 nodes: $$(nproc) CPUs, $$(ls -d /sys/devices/system/node/node* | wc -l) NUMA nodes"; \
	echo "DEMO: openmp, one thread per CPU"; openmp 100000; \
	echo "DEMO: pthreads, 4 threads: mutexes, condition variables, barriers"; pthreads 500

demo: build
	$(call linux_3node,demo,--add $(LINUX)/bin/openmp $(LINUX)/bin/pthreads --run '$(DEMO_RUN)')

demo-testguest: build
	$(BUILD)/vsmp-vmm --config configs/local-3node.toml

linux-shell: build
	$(call linux_3node,shell,--add $(LINUX)/bin/* --run 'setsid cttyhack sh')

linux-check: build
	bash tests/linux_check.sh $(BUILD)

stress: build
	bash tests/stress.sh $(BUILD)

bench: build
	$(BUILD)/vsmp-vmm bench exits

# FUZZ_CPU_SEED=N replays a run; the seed is printed first either way.
fuzz-cpu: build
	$(BUILD)/tests/diff/fuzz-cpu --cases $${FUZZ_CPU_CASES:-1000000} \
		$${FUZZ_CPU_SEED:+--seed $$FUZZ_CPU_SEED}

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
