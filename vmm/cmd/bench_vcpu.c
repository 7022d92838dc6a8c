/* The bare vCPU of `bench coherence` (see the header). The page reader is a real-mode loop that
 * reads one byte of each page in turn (ES advances by `stride` pages) and reports each read with
 * an `out` to port 0x503; the vCPU starts at it as an AP does after its SIPI. KVM reports each
 * `out` as an exit; the interpreter calls the port dispatch in the middle of the instruction, so
 * the dispatch counts the writes and ends the run with a kick once enough have been made. */
#include "vmm/cmd/bench_vcpu.h"

#include <stdio.h>
#include <string.h>

#include "vmm/accel.h"
#include "vmm/machine.h"

struct page_reader {
	struct cpu *cpu;
	unsigned outs, target;
};

static size_t page_reader_code(uint8_t *code, uint16_t first_segment, uint16_t stride_segments)
{
	const uint8_t program[] = {
	    0xb8,
	    (uint8_t)first_segment,
	    (uint8_t)(first_segment >> 8), /* mov ax, seg */
	    0x8e,
	    0xc0, /* mov es, ax */
	    0xba,
	    0x03,
	    0x05, /* mov dx, 0x503 */
	    0x26,
	    0xa0,
	    0x00,
	    0x00, /* loop: mov al, es:[0] */
	    0xee, /* out dx, al */
	    0x8c,
	    0xc0, /* mov ax, es */
	    0x05,
	    (uint8_t)stride_segments,
	    (uint8_t)(stride_segments >> 8), /* add ax, stride */
	    0x8e,
	    0xc0, /* mov es, ax */
	    0xeb,
	    0xf2, /* jmp loop */
	};
	memcpy(code, program, sizeof(program));
	return sizeof(program);
}

static void reader_io(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data,
		      unsigned len, bool is_write)
{
	struct page_reader *r = ctx;
	if (space == CPU_IO_PIO && ++r->outs >= r->target)
		r->cpu->ops->kick(r->cpu);
}

/* Runs until `count` more port writes were made; the mean time of each, or -1. */
static double reader_run(struct page_reader *r, unsigned count, char *err, size_t errlen)
{
	r->outs = 0;
	r->target = count;
	uint64_t t0 = machine_now_ns();
	while (r->outs < count) {
		struct cpu_exit *x = r->cpu->ops->run(r->cpu);
		if (x->reason == CPU_EXIT_IO)
			r->outs += x->io.count;
		else if (x->reason != CPU_EXIT_NONE) {
			snprintf(err, errlen, "page reader: unexpected exit %d %s", x->reason,
				 x->message);
			return -1;
		}
	}
	return (double)(machine_now_ns() - t0) / 1000.0 / count;
}

/* One pass on vCPU `index`: KVM keeps a vCPU until its VM goes, so each pass needs its own. */
static int reader_pass(struct accel *a, unsigned index, uint8_t *ram, uint64_t code_page,
		       uint64_t first_page, unsigned stride, unsigned count, double *us, char *err,
		       size_t errlen)
{
	struct page_reader r = {0};
	const struct cpu_io io = {.access = reader_io, .ctx = &r};
	page_reader_code(ram + code_page * 4096, (uint16_t)(first_page << 8),
			 (uint16_t)(stride << 8));
	r.cpu = a->ops->cpu_create(a, index, &io, err, errlen);
	if (!r.cpu)
		return -1;
	int rc = -1;
	if (r.cpu->ops->start_at_sipi(r.cpu, (uint8_t)code_page, err, errlen) == 0 &&
	    reader_run(&r, 1, err, errlen) >= 0) /* the first read also loads the code */
		rc = (*us = reader_run(&r, count - 1, err, errlen)) < 0 ? -1 : 0;
	r.cpu->ops->destroy(r.cpu);
	return rc;
}

int bench_vcpu_page_reads(uint8_t *ram, size_t ram_size, uint64_t code_page, uint64_t first_page,
			  unsigned stride_pages, unsigned count, double *per_read_us,
			  double *pio_us, const char **backend, char *err, size_t errlen)
{
	uint64_t last = first_page + (uint64_t)stride_pages * count;
	if (count < 2 || code_page >= 0x100 || code_page * 4096 + 4096 > ram_size ||
	    last * 4096 > ram_size || last > 0x100) {
		snprintf(err, errlen, "page reader: pages must lie below 1 MiB and in RAM");
		return -1;
	}
	const struct accel_params p = {.ram_host = ram, .ram_size = ram_size, .vcpu_count = 2};
	struct accel *a = accel_open(ACCEL_AUTO, &p, err, errlen);
	if (!a)
		return -1;
	*backend = a->ops->name;
	/* The pages first (each touched for the first time), then the port floor on one page. */
	int rc = reader_pass(a, 0, ram, code_page, first_page, stride_pages, count, per_read_us,
			     err, errlen);
	if (rc == 0)
		rc = reader_pass(a, 1, ram, code_page, first_page, 0, count, pio_us, err, errlen);
	accel_close(a);
	return rc;
}
