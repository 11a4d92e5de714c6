/*
 * test_rpc.c — the JSON-RPC response parser and the receipt/log/block
 * decoders (pure functions), then the transport against a scripted
 * in-process HTTP server on 127.0.0.1 (port 0): retries on 5xx/429 and
 * connection failures, no retry on a JSON-RPC error, response size cap,
 * "already known" / "nonce too low" on send, and eth_getLogs range
 * splitting when the node answers "too many results".
 *
 * The receipt and log fixtures have the shape of anvil 1.7 replies (field
 * names per the Ethereum JSON-RPC spec, execution-apis).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/keccak.h"
#include "eth/rpc.h"

/* ---- rpc_response_parse ---- */

static void test_parse_table(void **state)
{
	static const struct {
		const char *body;
		int code;
		const char *why;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"}", 0, "string result" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":null}", 0, "null result" },
		{ "{\"id\":7,\"result\":{\"a\":[1]},\"jsonrpc\":\"2.0\"}", 0, "object result, any key order" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32000,\"message\":\"nonce too low\"}}",
		  ERR_RPC, "error object" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse error\"}}",
		  ERR_RPC, "error with id null" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":3,\"message\":\"execution reverted\","
		  "\"data\":\"0xdeadbeef\"}}", ERR_REVERT, "revert with data" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32603,\"message\":\"execution reverted\"}}",
		  ERR_REVERT, "revert by message" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":\"0x1\"}", ERR_INVALID, "id mismatch" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"result\":\"0x1\"}", ERR_INVALID, "id as string" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":-7,\"result\":\"0x1\"}", ERR_INVALID, "negative id" },
		{ "{\"jsonrpc\":\"2.0\",\"result\":\"0x1\"}", ERR_INVALID, "no id" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":\"0x1\"}", ERR_INVALID, "id null with result" },
		{ "{\"id\":7,\"result\":\"0x1\"}", ERR_INVALID, "no jsonrpc" },
		{ "{\"jsonrpc\":\"1.0\",\"id\":7,\"result\":\"0x1\"}", ERR_INVALID, "jsonrpc 1.0" },
		{ "{\"jsonrpc\":2.0,\"id\":7,\"result\":\"0x1\"}", ERR_INVALID, "jsonrpc as number" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7}", ERR_INVALID, "neither result nor error" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1,\"error\":{\"code\":1,\"message\":\"x\"}}",
		  ERR_INVALID, "both result and error" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"message\":\"x\"}}", ERR_INVALID, "error without code" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":1}}", ERR_INVALID, "error without message" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":\"boom\"}", ERR_INVALID, "error not an object" },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1}]", ERR_INVALID, "batch array" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"", ERR_INVALID, "truncated" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"}{}", ERR_INVALID, "two values" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"id\":7,\"result\":\"0x1\"}", ERR_INVALID, "duplicate key" },
		{ "", ERR_INVALID, "empty" },
		{ "<html>502 Bad Gateway</html>", ERR_INVALID, "html" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *res = NULL;
		struct rpc_error re;
		struct err e = { 0, "" };
		int rc;

		memset(&re, 0, sizeof re);
		rc = rpc_response_parse(cases[i].body, strlen(cases[i].body), 0, 7, &res, &re, &e);
		print_message("%s: %d %s\n", cases[i].why, rc, e.msg);
		assert_int_equal(rc, cases[i].code);
		if (rc == 0) {
			assert_non_null(res);
		} else {
			assert_null(res);
			assert_true(e.msg[0]);
		}
		json_decref(res);
		rpc_error_release(&re);
	}
}

static void test_parse_error_details(void **state)
{
	const char *body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":3,"
			   "\"message\":\"execution reverted: no\",\"data\":\"0x08c379a0\"}}";
	json_t *res = NULL;
	struct rpc_error re;
	struct err e = { 0, "" };
	(void)state;

	memset(&re, 0, sizeof re);
	assert_int_equal(rpc_response_parse(body, strlen(body), 0, 1, &res, &re, &e), ERR_REVERT);
	assert_true(re.code == 3);
	assert_string_equal(re.message, "execution reverted: no");
	assert_true(re.has_data && re.data_len == 4 && re.data[0] == 0x08 && re.data[3] == 0xa0);
	assert_non_null(strstr(e.msg, "execution reverted"));
	rpc_error_release(&re);
	rpc_error_release(&re); /* twice is fine */
	rpc_error_release(NULL);
	/* re optional */
	assert_int_equal(rpc_response_parse(body, strlen(body), 0, 1, &res, NULL, NULL), ERR_REVERT);
	/* a non-hex 'data' is ignored, not an error */
	body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\"m\",\"data\":{\"x\":1}}}";
	assert_int_equal(rpc_response_parse(body, strlen(body), 0, 1, &res, &re, NULL), ERR_RPC);
	assert_false(re.has_data);
	/*
	 * anvil writes raw revert bytes, NULs included, into the message of a
	 * custom-error revert; the revert data must still come through.
	 */
	body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":3,\"message\":"
	       "\"execution reverted: custom error 0x1234abcd: \\u0000\\u0000c\","
	       "\"data\":\"0x1234abcd0000000000000000000000000000000000000000000000000000000000000063\"}}";
	memset(&re, 0, sizeof re);
	assert_int_equal(rpc_response_parse(body, strlen(body), 0, 1, &res, &re, &e), ERR_REVERT);
	assert_true(re.has_data && re.data_len == 36 && re.data[35] == 0x63);
	assert_non_null(strstr(re.message, "custom error 0x1234abcd"));
	rpc_error_release(&re);
}

static void test_parse_limits(void **state)
{
	const char *body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}";
	size_t n = strlen(body);
	char deep[4096];
	size_t k = 0;
	json_t *res = NULL;
	struct err e = { 0, "" };
	(void)state;

	assert_int_equal(rpc_response_parse(body, n, n, 1, &res, NULL, NULL), 0);
	json_decref(res);
	res = NULL;
	assert_int_equal(rpc_response_parse(body, n, n - 1, 1, &res, NULL, &e), ERR_TOO_BIG);
	assert_null(res);
	assert_true(e.msg[0]);
	k += (size_t)sprintf(deep, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":");
	for (int i = 0; i < 100; i++)
		deep[k++] = '[';
	for (int i = 0; i < 100; i++)
		deep[k++] = ']';
	deep[k++] = '}';
	err_clear(&e);
	assert_int_equal(rpc_response_parse(deep, k, 0, 1, &res, NULL, &e), ERR_DEPTH);
	assert_true(e.msg[0]);
}

/* ---- decoders ---- */

#define H32 "0x1111111111111111111111111111111111111111111111111111111111111111"
#define B32 "0x2222222222222222222222222222222222222222222222222222222222222222"
#define T32 "0xc0ffee0000000000000000000000000000000000000000000000000000c0ffee"
#define ADDR "0x5fbdb2315678afecb367f032d93f642f64180aa3"

#define LOG_JSON(extra)                                                             \
	"{\"address\":\"" ADDR "\",\"topics\":[\"" T32 "\"],"                       \
	"\"data\":\"0x000000000000000000000000000000000000000000000000000000000000002a\"," \
	"\"blockHash\":\"" B32 "\",\"blockNumber\":\"0x5\",\"transactionHash\":\"" H32 "\"," \
	"\"transactionIndex\":\"0x0\",\"logIndex\":\"0x0\"" extra "}"

static const char receipt_json[] =
	"{\"type\":\"0x2\",\"status\":\"0x1\",\"cumulativeGasUsed\":\"0x5bcb\","
	"\"logs\":[" LOG_JSON(",\"removed\":false") "],"
	"\"logsBloom\":\"0x00\",\"transactionHash\":\"" H32 "\",\"transactionIndex\":\"0x0\","
	"\"blockHash\":\"" B32 "\",\"blockNumber\":\"0x5\",\"gasUsed\":\"0x5bcb\","
	"\"effectiveGasPrice\":\"0x3b9aca01\",\"from\":\"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266\","
	"\"to\":\"" ADDR "\",\"contractAddress\":null}";

static json_t *parse(const char *text)
{
	json_t *v = NULL;
	assert_int_equal(json_parse(&v, text, strlen(text), 0, NULL), 0);
	return v;
}

static void test_receipt_decode(void **state)
{
	json_t *j = parse(receipt_json);
	struct rpc_receipt r;
	(void)state;

	assert_int_equal(rpc_receipt_decode(&r, j, NULL), 0);
	assert_true(r.status == 1 && r.block_number == 5 && r.gas_used == 0x5bcb);
	assert_true(r.effective_gas_price.w[0] == 0x3b9aca01);
	assert_false(r.has_contract_address);
	assert_int_equal(r.n_logs, 1);
	assert_int_equal(r.logs[0].n_topics, 1);
	assert_true(r.logs[0].topics[0][0] == 0xc0 && r.logs[0].topics[0][31] == 0xee);
	assert_int_equal(r.logs[0].data_len, 32);
	assert_true(r.logs[0].data[31] == 42);
	assert_true(r.logs[0].block_number == 5);
	assert_false(r.logs[0].removed);
	rpc_receipt_release(&r);
	rpc_receipt_release(&r);
	json_decref(j);
}

/* Each mutation of one receipt field must be refused with that field named. */
static void test_receipt_bad(void **state)
{
	static const struct {
		const char *field;
		const char *value; /* JSON text, NULL = delete */
		int code;
	} cases[] = {
		{ "status", "\"0x2\"", ERR_INVALID },
		{ "status", NULL, ERR_NOT_FOUND },
		{ "blockNumber", "null", ERR_NOT_FOUND },
		{ "blockNumber", "\"0x10000000000000000\"", ERR_RANGE },
		{ "transactionHash", "\"0x11\"", ERR_INVALID },
		{ "gasUsed", "1.5", ERR_INVALID },
		{ "from", "\"0x12\"", ERR_INVALID },
		{ "contractAddress", "\"nope\"", ERR_INVALID },
		{ "logs", "{}", ERR_INVALID },
		{ "logs", "[1]", ERR_INVALID },
		{ "logs", "[" LOG_JSON(",\"removed\":\"no\"") "]", ERR_INVALID },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *j = parse(receipt_json);
		struct rpc_receipt r;
		struct err e = { 0, "" };
		int rc;

		if (cases[i].value)
			json_object_set_new(j, cases[i].field, parse(cases[i].value));
		else
			json_object_del(j, cases[i].field);
		memset(&r, 0xa5, sizeof r);
		rc = rpc_receipt_decode(&r, j, &e);
		print_message("%s: %d %s\n", cases[i].field, rc, e.msg);
		assert_int_equal(rc, cases[i].code);
		assert_true(e.msg[0]);
		assert_int_equal(((uint8_t *)&r)[0], 0xa5);
		json_decref(j);
	}
}

static void test_log_decode(void **state)
{
	static const struct {
		const char *json;
		int code;
	} cases[] = {
		{ LOG_JSON(""), 0 },
		{ LOG_JSON(",\"removed\":true"), 0 },
		{ "{\"address\":\"" ADDR "\",\"topics\":[],\"data\":\"0x\",\"blockHash\":\"" B32
		  "\",\"blockNumber\":\"0x0\",\"transactionHash\":\"" H32 "\",\"logIndex\":\"0x3\"}", 0 },
		{ "{\"address\":\"" ADDR "\",\"topics\":[\"" T32 "\",\"" T32 "\",\"" T32 "\",\"" T32 "\",\""
		  T32 "\"],\"data\":\"0x\",\"blockHash\":\"" B32 "\",\"blockNumber\":\"0x0\","
		  "\"transactionHash\":\"" H32 "\",\"logIndex\":\"0x3\"}", ERR_INVALID },
		{ "{\"address\":\"" ADDR "\",\"topics\":[\"0x01\"],\"data\":\"0x\",\"blockHash\":\"" B32
		  "\",\"blockNumber\":\"0x0\",\"transactionHash\":\"" H32 "\",\"logIndex\":\"0x3\"}", ERR_INVALID },
		{ "{\"address\":\"" ADDR "\",\"topics\":[],\"data\":\"0x1\",\"blockHash\":\"" B32
		  "\",\"blockNumber\":\"0x0\",\"transactionHash\":\"" H32 "\",\"logIndex\":\"0x3\"}", ERR_INVALID },
		{ "[]", ERR_INVALID },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *j = parse(cases[i].json);
		struct rpc_log l;
		struct err e = { 0, "" };
		int rc = rpc_log_decode(&l, j, &e);
		assert_int_equal(rc, cases[i].code);
		if (rc == 0) {
			assert_true(l.log_index == 0 || l.log_index == 3);
			rpc_log_release(&l);
		} else {
			assert_true(e.msg[0]);
		}
		json_decref(j);
	}
}

static void test_block_decode(void **state)
{
	json_t *j = parse("{\"number\":\"0x1b4\",\"hash\":\"" H32 "\",\"parentHash\":\"" B32 "\","
			  "\"timestamp\":\"0x6553f100\",\"baseFeePerGas\":\"0x7\",\"transactions\":[]}");
	struct rpc_block b;
	struct err e = { 0, "" };
	(void)state;

	assert_int_equal(rpc_block_decode(&b, j, NULL), 0);
	assert_true(b.number == 0x1b4 && b.timestamp == 0x6553f100 && b.has_base_fee &&
		    b.base_fee_per_gas.w[0] == 7);
	json_object_del(j, "baseFeePerGas"); /* pre-London */
	assert_int_equal(rpc_block_decode(&b, j, NULL), 0);
	assert_false(b.has_base_fee);
	json_object_set_new(j, "hash", json_null()); /* pending block */
	assert_int_equal(rpc_block_decode(&b, j, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "hash"));
	json_decref(j);
}

/* ---- transport against a scripted server ---- */

/* What the server answers to request number i. */
struct reply {
	int status;          /* HTTP status, 0: close the connection without answering */
	const char *body;    /* "%ID%" is replaced by the request's id */
};

struct server {
	int fd;
	uint16_t port;
	pthread_t thread;
	const struct reply *script;  /* used in order; the last one repeats */
	size_t n_script;
	size_t served;               /* requests seen */
	bool logs_mode;              /* answer eth_getLogs by block span instead */
	size_t big_body;             /* >0: answer with this many bytes of padding */
};

static void server_send(int c, int status, const char *body, size_t n)
{
	char head[256];
	int k = snprintf(head, sizeof head,
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, n);
	if (write(c, head, (size_t)k) < 0 || write(c, body, n) < 0)
		return;
}

/* Reads one request; returns its body (static buffer) or NULL. */
static char *server_read(int c)
{
	static char req[65536];
	size_t n = 0;
	char *body;
	long len;

	for (;;) {
		ssize_t r = read(c, req + n, sizeof req - 1 - n);
		if (r <= 0)
			return NULL;
		n += (size_t)r;
		req[n] = '\0';
		body = strstr(req, "\r\n\r\n");
		if (!body)
			continue;
		char *cl = strcasestr(req, "Content-Length:");
		len = cl ? strtol(cl + 15, NULL, 10) : 0;
		if ((size_t)(body + 4 - req) + (size_t)len <= n)
			return body + 4;
	}
}

static void server_answer_logs(int c, json_t *req, uint64_t id)
{
	json_t *f = json_array_get(json_object_get(req, "params"), 0);
	uint64_t from = 0, to = 0;
	char body[8192];
	size_t k;

	json_val_u64(&from, json_object_get(f, "fromBlock"), "from", NULL);
	json_val_u64(&to, json_object_get(f, "toBlock"), "to", NULL);
	if (to - from >= 2) {
		k = (size_t)snprintf(body, sizeof body,
				     "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"error\":{\"code\":-32005,"
				     "\"message\":\"query returned more than 10000 results\"}}",
				     (unsigned long long)id);
		server_send(c, 200, body, k);
		return;
	}
	k = (size_t)snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"result\":[",
			     (unsigned long long)id);
	for (uint64_t b = from; b <= to; b++)
		k += (size_t)snprintf(body + k, sizeof body - k,
				      "%s{\"address\":\"" ADDR "\",\"topics\":[],\"data\":\"0x\","
				      "\"blockHash\":\"" B32 "\",\"blockNumber\":\"0x%llx\","
				      "\"transactionHash\":\"" H32 "\",\"logIndex\":\"0x0\"}",
				      b == from ? "" : ",", (unsigned long long)b);
	k += (size_t)snprintf(body + k, sizeof body - k, "]}");
	server_send(c, 200, body, k);
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		char *body;
		json_t *req;
		uint64_t id = 0;

		if (c < 0)
			return NULL;
		body = server_read(c);
		if (!body) {
			close(c);
			continue;
		}
		req = json_loads(body, 0, NULL);
		if (req && json_is_object(req) && json_object_get(req, "id") == NULL) {
			json_decref(req);
			close(c);
			return NULL; /* the stop message */
		}
		json_val_u64(&id, json_object_get(req, "id"), "id", NULL);
		if (s->logs_mode) {
			server_answer_logs(c, req, id);
		} else if (s->big_body) {
			char *big = malloc(s->big_body);
			memset(big, ' ', s->big_body);
			server_send(c, 200, big, s->big_body);
			free(big);
		} else {
			const struct reply *r =
				&s->script[s->served < s->n_script ? s->served : s->n_script - 1];
			if (r->status) {
				char text[4096], *p;
				snprintf(text, sizeof text, "%s", r->body);
				p = strstr(text, "%ID%");
				if (p) {
					char tail[4096];
					snprintf(tail, sizeof tail, "%s", p + 4);
					snprintf(p, sizeof text - (size_t)(p - text), "%llu%s",
						 (unsigned long long)id, tail);
				}
				server_send(c, r->status, text, strlen(text));
			}
		}
		s->served++;
		json_decref(req);
		close(c);
	}
}

static void server_start(struct server *s)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;

	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
	s->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	/* a request without "id" tells the thread to exit */
	const char *msg = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
	struct sockaddr_in sa;
	int c = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(s->port);
	if (connect(c, (struct sockaddr *)&sa, sizeof sa) == 0 && write(c, msg, strlen(msg)) > 0)
		pthread_join(s->thread, NULL);
	close(c);
	close(s->fd);
}

static void client(struct rpc *r, struct server *s, unsigned retries)
{
	char url[64];
	struct rpc_opts o = { .max_retries = retries, .backoff_ms = 5, .backoff_max_ms = 20,
			      .timeout_ms = 2000, .connect_timeout_ms = 500,
			      .no_retry = retries == 0 };
	snprintf(url, sizeof url, "http://127.0.0.1:%u", s->port);
	assert_int_equal(rpc_init(r, url, &o, NULL), 0);
}

static void test_retry(void **state)
{
	static const struct reply script[] = {
		{ 503, "busy" },
		{ 429, "{\"error\":\"rate limited\"}" },
		{ 0, NULL }, /* connection closed without a reply */
		{ 200, "{\"jsonrpc\":\"2.0\",\"id\":%ID%,\"result\":\"0x7a69\"}" },
	};
	struct server s = { .script = script, .n_script = 4 };
	struct rpc r;
	uint64_t id = 0;
	(void)state;

	server_start(&s);
	client(&r, &s, 3);
	assert_int_equal(rpc_chain_id(&r, &id, NULL), 0);
	assert_true(id == 31337);
	assert_true(r.requests == 4);
	rpc_release(&r);
	server_stop(&s);
}

static void test_retry_exhausted(void **state)
{
	static const struct reply script[] = { { 502, "bad gateway" } };
	struct server s = { .script = script, .n_script = 1 };
	struct rpc r;
	uint64_t id = 0;
	struct err e = { 0, "" };
	(void)state;

	server_start(&s);
	client(&r, &s, 2);
	assert_int_equal(rpc_chain_id(&r, &id, &e), ERR_NET);
	assert_non_null(strstr(e.msg, "502"));
	assert_true(r.requests == 3); /* 1 + 2 retries */
	assert_true(id == 0);
	rpc_release(&r);
	server_stop(&s);
}

static void test_no_retry_on_rpc_error(void **state)
{
	static const struct reply script[] = {
		{ 200, "{\"jsonrpc\":\"2.0\",\"id\":%ID%,\"error\":{\"code\":-32601,\"message\":\"no such method\"}}" },
		{ 404, "{\"jsonrpc\":\"2.0\",\"id\":%ID%,\"error\":{\"code\":-32601,\"message\":\"gone\"}}" },
		{ 403, "forbidden" },
		{ 200, "{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":\"0x1\"}" },
	};
	struct server s = { .script = script, .n_script = 4 };
	struct rpc r;
	json_t *res = NULL;
	struct err e = { 0, "" };
	(void)state;

	server_start(&s);
	client(&r, &s, 3);
	assert_int_equal(rpc_call_text(&r, &res, "x_y", "[]", &e), ERR_RPC);
	assert_non_null(strstr(e.msg, "no such method"));
	assert_true(r.requests == 1);
	assert_int_equal(rpc_call_text(&r, &res, "x_y", "[]", &e), ERR_RPC); /* 404 with an error object */
	assert_int_equal(rpc_call_text(&r, &res, "x_y", "[]", &e), ERR_NET);  /* 403 */
	assert_non_null(strstr(e.msg, "403"));
	assert_int_equal(rpc_call_text(&r, &res, "x_y", "[]", &e), ERR_INVALID); /* wrong id */
	assert_true(r.requests == 4);
	assert_int_equal(rpc_call_text(&r, &res, "x_y", "{}", &e), ERR_INVALID); /* params not an array */
	assert_int_equal(rpc_call_text(&r, &res, "x_y", "[", &e), ERR_INVALID);
	assert_null(res);
	rpc_release(&r);
	server_stop(&s);
}

static void test_response_cap(void **state)
{
	struct server s = { .big_body = 200000 };
	struct rpc r;
	char url[64];
	struct rpc_opts o = { .max_response = 100000, .no_retry = true, .timeout_ms = 2000 };
	uint64_t id;
	struct err e = { 0, "" };
	(void)state;

	server_start(&s);
	snprintf(url, sizeof url, "http://127.0.0.1:%u", s.port);
	assert_int_equal(rpc_init(&r, url, &o, NULL), 0);
	assert_int_equal(rpc_chain_id(&r, &id, &e), ERR_TOO_BIG);
	assert_true(e.msg[0]);
	rpc_release(&r);
	server_stop(&s);
}

static void test_connect_refused(void **state)
{
	struct rpc r;
	struct rpc_opts o = { .max_retries = 1, .backoff_ms = 1, .connect_timeout_ms = 300 };
	uint64_t id;
	struct err e = { 0, "" };
	(void)state;

	/* port 1 on loopback: nothing listens there in a test sandbox */
	assert_int_equal(rpc_init(&r, "http://127.0.0.1:1", &o, NULL), 0);
	assert_int_equal(rpc_chain_id(&r, &id, &e), ERR_NET);
	assert_true(r.requests == 2);
	rpc_release(&r);
	/* bad URLs */
	assert_int_equal(rpc_init(&r, "ftp://127.0.0.1", NULL, &e), ERR_INVALID);
	assert_int_equal(rpc_init(&r, "", NULL, &e), ERR_INVALID);
	rpc_release(NULL);
}

static void test_send_raw(void **state)
{
	static const uint8_t raw[] = { 0x02, 0xc0 };
	uint8_t want[32], got[32];
	char hash_reply[200], hx[67];
	struct reply script[] = {
		{ 200, NULL },
		{ 200, "{\"jsonrpc\":\"2.0\",\"id\":%ID%,\"error\":{\"code\":-32000,\"message\":\"already known\"}}" },
		{ 200, "{\"jsonrpc\":\"2.0\",\"id\":%ID%,\"error\":{\"code\":-32000,\"message\":\"nonce too low\"}}" },
		{ 200, "{\"jsonrpc\":\"2.0\",\"id\":%ID%,\"error\":{\"code\":-32000,\"message\":\"insufficient funds for gas * price + value\"}}" },
		{ 200, "{\"jsonrpc\":\"2.0\",\"id\":%ID%,\"result\":\"" H32 "\"}" },
	};
	struct server s = { .script = script, .n_script = 5 };
	struct rpc r;
	struct err e = { 0, "" };
	(void)state;

	keccak256(want, raw, sizeof raw);
	hex_encode_0x(hx, want, 32);
	snprintf(hash_reply, sizeof hash_reply, "{\"jsonrpc\":\"2.0\",\"id\":%%ID%%,\"result\":\"%s\"}", hx);
	script[0].body = hash_reply;
	server_start(&s);
	client(&r, &s, 0);
	assert_int_equal(rpc_send_raw_tx(&r, got, raw, sizeof raw, NULL), 0);
	assert_memory_equal(got, want, 32);
	memset(got, 0, 32);
	assert_int_equal(rpc_send_raw_tx(&r, got, raw, sizeof raw, NULL), 0); /* already known */
	assert_memory_equal(got, want, 32);
	assert_int_equal(rpc_send_raw_tx(&r, got, raw, sizeof raw, &e), ERR_CONFLICT);
	assert_int_equal(rpc_send_raw_tx(&r, got, raw, sizeof raw, &e), ERR_RPC);
	assert_non_null(strstr(e.msg, "insufficient funds"));
	assert_int_equal(rpc_send_raw_tx(&r, got, raw, sizeof raw, &e), ERR_INVALID); /* other hash */
	rpc_release(&r);
	server_stop(&s);
}

static void test_logs_split(void **state)
{
	struct server s = { .logs_mode = true };
	struct rpc r;
	struct rpc_logs logs = { 0 };
	struct rpc_log_filter f = { .from_block = 10, .to_block = 29 };
	(void)state;

	server_start(&s);
	client(&r, &s, 0);
	assert_int_equal(rpc_get_logs(&r, &logs, &f, NULL), 0);
	assert_int_equal(logs.n, 20);
	for (size_t i = 0; i < logs.n; i++)
		assert_true(logs.v[i].block_number == 10 + i); /* in order, no gap, no duplicate */
	rpc_logs_release(&logs);
	f.from_block = 30;
	f.to_block = 29;
	assert_int_equal(rpc_get_logs(&r, &logs, &f, NULL), ERR_INVALID);
	rpc_release(&r);
	server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_error_details),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_receipt_decode),
		cmocka_unit_test(test_receipt_bad),
		cmocka_unit_test(test_log_decode),
		cmocka_unit_test(test_block_decode),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_retry_exhausted),
		cmocka_unit_test(test_no_retry_on_rpc_error),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_send_raw),
		cmocka_unit_test(test_logs_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
