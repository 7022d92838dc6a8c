/* The cluster key: file checks and formats, generation, and the derivations.
 *
 * Whatever the file holds is hashed into a 32-byte cluster key, so raw files of any length from
 * 32 bytes up and hex files are equivalent. Every derived value is keyed BLAKE2b under that key
 * over a label naming its purpose followed by fixed-size fields, so no two purposes can produce
 * the same bytes: a proof can never be replayed as a session key or the other way round.
 * Nonces are 32 bytes (WIRE_NONCE_SIZE).
 */
#include "coherence/cluster_key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_SIZE 32

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void hash_material(const void *material, size_t len, uint8_t key[CLUSTER_KEY_SIZE])
{
	static const char label[] = "vsmp-vmm cluster key v1";
	crypto_generichash_state state;
	crypto_generichash_init(&state, NULL, 0, CLUSTER_KEY_SIZE);
	crypto_generichash_update(&state, (const uint8_t *)label, sizeof(label));
	crypto_generichash_update(&state, material, len);
	crypto_generichash_final(&state, key, CLUSTER_KEY_SIZE);
	sodium_memzero(&state, sizeof(state));
}

int cluster_key_parse(const void *text, size_t len, uint8_t key[CLUSTER_KEY_SIZE], char *err,
		      size_t errlen)
{
	const uint8_t *p = text;
	size_t digits = len;
	while (digits > 0 && is_space(p[digits - 1]))
		digits--;
	bool hex = digits > 0;
	for (size_t i = 0; i < digits && hex; i++)
		hex = is_hex(p[i]);
	if (!hex) {
		if (len < CLUSTER_KEY_MIN_BYTES)
			return fail(err, errlen, "holds %zu bytes; a key needs at least %d", len,
				    CLUSTER_KEY_MIN_BYTES);
		hash_material(p, len, key);
		return 0;
	}
	if (digits % 2 || digits < 2 * CLUSTER_KEY_MIN_BYTES)
		return fail(err, errlen,
			    "holds %zu hex digits; a hex key needs an even number, at least %d",
			    digits, 2 * CLUSTER_KEY_MIN_BYTES);
	uint8_t material[CLUSTER_KEY_FILE_MAX / 2];
	size_t bytes = 0;
	if (digits / 2 > sizeof(material) ||
	    sodium_hex2bin(material, sizeof(material), (const char *)p, digits, NULL, &bytes,
			   NULL) != 0)
		return fail(err, errlen, "hex key is too long");
	hash_material(material, bytes, key);
	sodium_memzero(material, sizeof(material));
	return 0;
}

static int check_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return fail(err, errlen, "key file %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, "key file %s is not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return fail(err, errlen,
			    "key file %s is accessible by group or others (mode %04o): it must "
			    "be mode 0600 (chmod 600 %s)",
			    path, (unsigned)(st.st_mode & 07777), path);
	if (st.st_uid != geteuid())
		return fail(err, errlen, "key file %s belongs to uid %u, not to this user (uid %u)",
			    path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_size > CLUSTER_KEY_FILE_MAX)
		return fail(err, errlen, "key file %s is larger than %d bytes", path,
			    CLUSTER_KEY_FILE_MAX);
	return 0;
}

int cluster_key_load(const char *path, uint8_t key[CLUSTER_KEY_SIZE], char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO in place of the file must not block the open; it is refused below. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fail(err, errlen, "key file %s: %s", path, strerror(errno));
	uint8_t buf[CLUSTER_KEY_FILE_MAX + 1];
	size_t len = 0;
	int rc = check_file(fd, path, err, errlen);
	while (rc == 0 && len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno != EINTR)
			rc = fail(err, errlen, "key file %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		if (n > 0)
			len += (size_t)n;
	}
	close(fd);
	if (rc == 0 && len > CLUSTER_KEY_FILE_MAX)
		rc = fail(err, errlen, "key file %s is larger than %d bytes", path,
			  CLUSTER_KEY_FILE_MAX);
	if (rc == 0) {
		char why[160];
		rc = cluster_key_parse(buf, len, key, why, sizeof(why));
		if (rc < 0)
			fail(err, errlen, "key file %s %s", path, why);
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int cluster_key_generate(const char *path, char *err, size_t errlen)
{
	if (sodium_init() < 0)
		return fail(err, errlen, "libsodium could not be initialised");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return fail(err, errlen, "%s already exists: refusing to overwrite it", path);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	uint8_t raw[CLUSTER_KEY_SIZE];
	char hex[2 * CLUSTER_KEY_SIZE + 2];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	size_t len = strlen(hex);
	hex[len++] = '\n';
	int rc = 0;
	if (fchmod(fd, 0600) < 0 || write(fd, hex, len) != (ssize_t)len || fsync(fd) < 0)
		rc = fail(err, errlen, "%s: %s", path, strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = fail(err, errlen, "%s: %s", path, strerror(errno));
	if (rc < 0)
		unlink(path);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Keyed BLAKE2b-256 of label (with its NUL) followed by the fields. */
static void derive(const uint8_t key[CLUSTER_KEY_SIZE], const char *label, const uint8_t *fields,
		   size_t len, uint8_t out[CLUSTER_KEY_SIZE])
{
	crypto_generichash_state state;
	crypto_generichash_init(&state, key, CLUSTER_KEY_SIZE, CLUSTER_KEY_SIZE);
	crypto_generichash_update(&state, (const uint8_t *)label, strlen(label) + 1);
	if (len)
		crypto_generichash_update(&state, fields, len);
	crypto_generichash_final(&state, out, CLUSTER_KEY_SIZE);
	sodium_memzero(&state, sizeof(state));
}

void cluster_key_handshake(const uint8_t key[CLUSTER_KEY_SIZE], uint8_t out[CLUSTER_KEY_SIZE])
{
	derive(key, "vsmp-vmm handshake v1", NULL, 0, out);
}

void cluster_key_proof(const uint8_t key[CLUSTER_KEY_SIZE], const uint8_t *verifier_nonce,
		       uint32_t prover, uint32_t verifier, uint8_t out[CLUSTER_KEY_SIZE])
{
	uint8_t fields[NONCE_SIZE + 8];
	memcpy(fields, verifier_nonce, NONCE_SIZE);
	put_u32(fields + NONCE_SIZE, prover);
	put_u32(fields + NONCE_SIZE + 4, verifier);
	derive(key, "vsmp-vmm proof v1", fields, sizeof(fields), out);
}

int cluster_key_check_proof(const uint8_t key[CLUSTER_KEY_SIZE], const uint8_t *our_nonce,
			    uint32_t prover, uint32_t us, const uint8_t *proof)
{
	uint8_t expected[CLUSTER_KEY_SIZE];
	cluster_key_proof(key, our_nonce, prover, us, expected);
	int rc = crypto_verify_32(expected, proof);
	sodium_memzero(expected, sizeof(expected));
	return rc == 0 ? 0 : -1;
}

void cluster_key_session(const uint8_t key[CLUSTER_KEY_SIZE], const char *channel, uint32_t a,
			 const uint8_t *nonce_a, uint32_t b, const uint8_t *nonce_b,
			 uint8_t out[CLUSTER_KEY_SIZE])
{
	if (a > b) {
		uint32_t t = a;
		a = b;
		b = t;
		const uint8_t *tn = nonce_a;
		nonce_a = nonce_b;
		nonce_b = tn;
	}
	uint8_t fields[8 + 2 * NONCE_SIZE];
	put_u32(fields, a);
	put_u32(fields + 4, b);
	memcpy(fields + 8, nonce_a, NONCE_SIZE);
	memcpy(fields + 8 + NONCE_SIZE, nonce_b, NONCE_SIZE);
	char label[64];
	snprintf(label, sizeof(label), "vsmp-vmm session v1 %s", channel);
	derive(key, label, fields, sizeof(fields), out);
}
