/* The native side of the differential harness: runs cases on the host processor, in a forked
 * worker process, so that nothing a case does (a wild store, a signal we do not handle, a hang)
 * can take the test runner down with it.
 *
 * The worker maps the data buffer, the code page and the stubs' state page at their fixed low
 * addresses (MAP_FIXED_NOREPLACE: the same numbers are guest-physical addresses on the
 * interpreter's side). For each case it copies the data and code in, appends an absolute jump to
 * diff_native_exit after the code, fills the state page and calls diff_native_enter
 * (diff_native_stub.S). A fault arrives as a signal, handled on an alternate stack (RSP belongs
 * to the case): the handler takes the registers from the signal frame and siglongjmps back.
 *
 * Parent and worker share the batch (cases in, outcomes out, a progress counter) in a
 * MAP_SHARED mapping and talk through two pipes: the parent writes "run cases [from, to)", the
 * worker answers one byte when done. If the worker dies or hangs instead, the progress counter
 * names the case that did it: that case gets an error outcome and a new worker takes the rest. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "tests/diff/diff.h"

#define WORKER_TIMEOUT_MS 20000

/* The stubs' view of the state page (offsets are hard-coded in diff_native_stub.S). */
struct native_page {
	uint64_t gpr[16];   /* 0 */
	uint64_t rflags;    /* 128 */
	uint64_t host_rsp;  /* 136 */
	uint64_t code_addr; /* 144 */
	uint64_t pad;
	uint8_t xmm[16][16]; /* 160 */
	uint32_t mxcsr;	     /* 416 */
	uint32_t scratch;    /* 420 */
	uint8_t pad2[88];
	uint8_t fxsave[512]; /* 512: FXSAVE image after the case */
};
_Static_assert(offsetof(struct native_page, xmm) == 160, "stub layout");
_Static_assert(offsetof(struct native_page, mxcsr) == 416, "stub layout");
_Static_assert(offsetof(struct native_page, fxsave) == 512, "stub layout");

void diff_native_enter(void);
void diff_native_exit(void);

struct shared {
	volatile uint32_t done; /* cases of the current command finished */
	char error[256];	/* the worker's setup failure */
	struct diff_case *cases;
	struct diff_outcome *out;
};

struct diff_native {
	unsigned batch;
	struct shared *sh;
	size_t sh_size;
	pid_t pid;
	int cmd_fd, ack_fd;
};

/* ---- the worker ------------------------------------------------------------------------ */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_case;
static struct diff_outcome *fault_out;

static enum diff_fault fault_of_signal(int sig, int code)
{
	switch (sig) {
	case SIGFPE:
		return code == FPE_INTDIV || code == FPE_INTOVF ? DIFF_FAULT_DE : DIFF_FAULT_FPE;
	case SIGILL:
		return DIFF_FAULT_UD;
	case SIGSEGV:
		return DIFF_FAULT_SEGV;
	case SIGBUS:
		return code == BUS_ADRALN ? DIFF_FAULT_AC : DIFF_FAULT_SEGV;
	case SIGTRAP:
		return DIFF_FAULT_TRAP;
	default:
		return DIFF_FAULT_OTHER;
	}
}

/* The registers at the fault, from the signal frame. */
static void regs_from_ucontext(struct diff_regs *r, const ucontext_t *uc)
{
	static const int map[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				    REG_RSI, REG_RDI, REG_R8,  REG_R9,	REG_R10, REG_R11,
				    REG_R12, REG_R13, REG_R14, REG_R15};
	for (unsigned i = 0; i < 16; i++)
		r->gpr[i] = (uint64_t)uc->uc_mcontext.gregs[map[i]];
	r->rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	const struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
	if (!fp)
		return;
	for (unsigned i = 0; i < 16; i++)
		memcpy(r->xmm[i], fp->_xmm[i].element, 16);
	r->mxcsr = fp->mxcsr;
	r->fcw = fp->cwd;
	r->fsw = fp->swd;
	r->ftw = (uint8_t)fp->ftw;
}

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
	if (!in_case) {
		/* Not the case's: the worker itself is broken; die of it. */
		signal(sig, SIG_DFL);
		return;
	}
	const ucontext_t *uc = uctx;
	struct diff_outcome *o = fault_out;
	o->fault = fault_of_signal(sig, info->si_code);
	o->detail = sig;
	o->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	regs_from_ucontext(&o->s.r, uc);
	siglongjmp(fault_jmp, 1);
}

static int worker_setup(struct shared *sh)
{
	static const struct {
		uint64_t addr;
		size_t size;
		int prot;
	} maps[] = {
	    {DIFF_DATA_ADDR, DIFF_DATA_SIZE, PROT_READ | PROT_WRITE},
	    {DIFF_CODE_ADDR, 4096, PROT_READ | PROT_WRITE | PROT_EXEC},
	    {DIFF_STATE_ADDR, 4096, PROT_READ | PROT_WRITE},
	};
	for (unsigned i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		void *p = mmap((void *)maps[i].addr, maps[i].size, maps[i].prot,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != (void *)maps[i].addr) {
			snprintf(sh->error, sizeof(sh->error), "cannot map 0x%llx: %s",
				 (unsigned long long)maps[i].addr, strerror(errno));
			return -1;
		}
	}
	static uint8_t altstack[1 << 16];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	if (sigaltstack(&ss, NULL) < 0) {
		snprintf(sh->error, sizeof(sh->error), "sigaltstack: %s", strerror(errno));
		return -1;
	}
	struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_ONSTACK};
	sigemptyset(&sa.sa_mask);
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	return 0;
}

static void worker_run_case(const struct diff_case *c, struct diff_outcome *o)
{
	struct native_page *pg = (struct native_page *)DIFF_STATE_ADDR;
	uint8_t *code = (uint8_t *)DIFF_CODE_ADDR;
	memcpy((void *)DIFF_DATA_ADDR, c->init.data, DIFF_DATA_SIZE);
	memcpy(code, c->code, c->len);
	/* jmp *0(%rip); .quad diff_native_exit */
	static const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
	uint64_t exit_addr = (uint64_t)(uintptr_t)diff_native_exit;
	memcpy(code + c->len, jmp, sizeof(jmp));
	memcpy(code + c->len + sizeof(jmp), &exit_addr, 8);

	memcpy(pg->gpr, c->init.r.gpr, sizeof(pg->gpr));
	pg->rflags = (c->init.r.rflags & (DIFF_FLAGS_ARITH | DIFF_FLAG_DF)) | 2;
	memcpy(pg->xmm, c->init.r.xmm, sizeof(pg->xmm));
	pg->mxcsr = c->init.r.mxcsr;
	pg->code_addr = DIFF_CODE_ADDR;

	*o = (struct diff_outcome){.status = DIFF_RUN_OK};
	fault_out = o;
	in_case = 1;
	if (sigsetjmp(fault_jmp, 1) == 0) {
		diff_native_enter();
		in_case = 0;
		memcpy(o->s.r.gpr, pg->gpr, sizeof(pg->gpr));
		o->s.r.rflags = pg->rflags;
		memcpy(o->s.r.xmm, pg->xmm, sizeof(pg->xmm));
		o->s.r.mxcsr = pg->mxcsr;
		memcpy(&o->s.r.fcw, pg->fxsave, 2);
		memcpy(&o->s.r.fsw, pg->fxsave + 2, 2);
		o->s.r.ftw = pg->fxsave[4];
		o->fault = DIFF_FAULT_NONE;
		o->rip = DIFF_CODE_ADDR + c->len;
	}
	in_case = 0;
	memcpy(o->s.data, (void *)DIFF_DATA_ADDR, DIFF_DATA_SIZE);
}

static _Noreturn void worker_main(struct shared *sh, int cmd_fd, int ack_fd)
{
	if (worker_setup(sh) < 0)
		_exit(2);
	uint8_t ready = 1;
	if (write(ack_fd, &ready, 1) != 1)
		_exit(2);
	uint32_t range[2];
	while (read(cmd_fd, range, sizeof(range)) == sizeof(range)) {
		for (uint32_t i = range[0]; i < range[1]; i++) {
			worker_run_case(&sh->cases[i], &sh->out[i]);
			sh->done = i + 1;
		}
		if (write(ack_fd, &ready, 1) != 1)
			break;
	}
	_exit(0);
}

/* ---- the parent ------------------------------------------------------------------------ */

static void worker_kill(struct diff_native *n, int *status)
{
	if (n->pid > 0) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, status, 0);
	}
	n->pid = -1;
	if (n->cmd_fd >= 0)
		close(n->cmd_fd);
	if (n->ack_fd >= 0)
		close(n->ack_fd);
	n->cmd_fd = n->ack_fd = -1;
}

/* Waits for the worker's one-byte answer: 0, or -1 if it died or hung. */
static int worker_wait(struct diff_native *n)
{
	struct pollfd p = {.fd = n->ack_fd, .events = POLLIN};
	int rc;
	do
		rc = poll(&p, 1, WORKER_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	uint8_t b;
	if (rc == 1 && read(n->ack_fd, &b, 1) == 1)
		return 0;
	return -1;
}

static int worker_start(struct diff_native *n, char *err, size_t errlen)
{
	int cmd[2], ack[2];
	if (pipe(cmd) < 0)
		goto fail;
	if (pipe(ack) < 0) {
		close(cmd[0]);
		close(cmd[1]);
		goto fail;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		worker_main(n->sh, cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	n->pid = pid;
	n->cmd_fd = cmd[1];
	n->ack_fd = ack[0];
	if (worker_wait(n) < 0) {
		snprintf(err, errlen, "native worker failed to start: %s",
			 n->sh->error[0] ? n->sh->error : "died");
		worker_kill(n, NULL);
		return -1;
	}
	return 0;
fail:
	snprintf(err, errlen, "native worker: %s", strerror(errno));
	return -1;
}

struct diff_native *diff_native_start(unsigned batch, char *err, size_t errlen)
{
	struct diff_native *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->batch = batch;
	n->pid = -1;
	n->cmd_fd = n->ack_fd = -1;
	n->sh_size = sizeof(struct shared) +
		     (size_t)batch * (sizeof(struct diff_case) + sizeof(struct diff_outcome));
	void *p = mmap(NULL, n->sh_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		free(n);
		return NULL;
	}
	n->sh = p;
	n->sh->cases = (struct diff_case *)(n->sh + 1);
	n->sh->out = (struct diff_outcome *)(n->sh->cases + batch);
	signal(SIGPIPE, SIG_IGN);
	if (worker_start(n, err, errlen) < 0) {
		diff_native_stop(n);
		return NULL;
	}
	return n;
}

void diff_native_stop(struct diff_native *n)
{
	if (!n)
		return;
	worker_kill(n, NULL);
	munmap(n->sh, n->sh_size);
	free(n);
}

struct diff_case *diff_native_cases(struct diff_native *n)
{
	return n->sh->cases;
}

const struct diff_outcome *diff_native_outcomes(struct diff_native *n)
{
	return n->sh->out;
}

int diff_native_run(struct diff_native *n, unsigned count, char *err, size_t errlen)
{
	uint32_t from = 0;
	while (from < count) {
		uint32_t range[2] = {from, count};
		n->sh->done = from;
		if (write(n->cmd_fd, range, sizeof(range)) == sizeof(range) && worker_wait(n) == 0)
			return 0;
		/* The worker died or hung on case `done`: blame it, restart, go on after it. */
		int status = 0;
		worker_kill(n, &status);
		uint32_t bad = n->sh->done;
		if (bad >= count)
			bad = count - 1;
		struct diff_outcome *o = &n->sh->out[bad];
		*o = (struct diff_outcome){.status = DIFF_RUN_ERROR};
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			snprintf(o->msg, sizeof(o->msg), "native worker died of signal %d",
				 WTERMSIG(status));
		else
			snprintf(o->msg, sizeof(o->msg), "native worker hung or exited (status %d)",
				 status);
		from = bad + 1;
		if (worker_start(n, err, errlen) < 0)
			return -1;
	}
	return 0;
}
