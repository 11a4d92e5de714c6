/*
 * rpc.c — JSON-RPC 2.0 client over libcurl (see rpc.h).
 *
 * Layout: pure decoding first (envelope, log, receipt, block), then the
 * transport with retries, then one small function per Ethereum method.
 */
#include "eth/rpc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/ethjson.h"
#include "eth/keccak.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

/* ---- pure decoding ---- */

void rpc_error_release(struct rpc_error *re)
{
	if (!re)
		return;
	free(re->data);
	re->data = NULL;
	re->data_len = 0;
	re->has_data = false;
}

/* True when the error object reports an EVM revert (geth/anvil use code 3). */
static bool rpc_error_is_revert(int64_t code, const char *msg)
{
	return code == 3 || strcasestr(msg, "execution reverted") != NULL ||
	       strcasestr(msg, "revert") == msg;
}

/* Copies msg into out (room cap+1) replacing control characters by '?'. */
static void rpc_copy_msg(char *out, size_t cap, const char *msg)
{
	size_t i;

	for (i = 0; i < cap && msg[i]; i++)
		out[i] = iscntrl((unsigned char)msg[i]) ? '?' : msg[i];
	out[i] = '\0';
}

static int rpc_error_decode(const json_t *err_obj, struct rpc_error *re, struct err *e)
{
	const json_t *code_v = json_object_get(err_obj, "code");
	const json_t *data_v = json_object_get(err_obj, "data");
	const char *msg = NULL;
	struct rpc_error tmp;
	int rc;

	memset(&tmp, 0, sizeof tmp);
	if (!json_is_object(err_obj))
		return err_set(e, ERR_INVALID, "JSON-RPC 'error' is not an object");
	if (!code_v || !json_is_integer(code_v))
		return err_set(e, ERR_INVALID, "JSON-RPC error has no integer 'code'");
	/* Read up to the first NUL: nodes may embed raw revert bytes here. */
	msg = json_string_value(json_object_get(err_obj, "message"));
	if (!msg)
		return err_set(e, ERR_INVALID, "JSON-RPC error has no string 'message'");
	tmp.code = json_integer_value(code_v);
	rpc_copy_msg(tmp.message, RPC_ERROR_MSG_MAX, msg);
	/* Revert data is 0x-hex; anything else in 'data' is ignored. */
	if (data_v && json_is_string(data_v)) {
		if (json_val_bytes_alloc(&tmp.data, &tmp.data_len, data_v, "error.data",
					 RPC_ERROR_DATA_MAX, NULL) == 0)
			tmp.has_data = true;
	}
	rc = rpc_error_is_revert(tmp.code, tmp.message) ? ERR_REVERT : ERR_RPC;
	err_set(e, rc, "node error %lld: %s", (long long)tmp.code, tmp.message);
	if (re)
		*re = tmp;
	else
		free(tmp.data);
	return rc;
}

int rpc_response_parse(const char *body, size_t n, size_t max_response,
		       uint64_t expected_id, json_t **result, struct rpc_error *re,
		       struct err *e)
{
	json_t *doc = NULL;
	const json_t *ver, *id, *res, *error;
	int rc;

	if (max_response == 0)
		max_response = RPC_RESPONSE_MAX_DEFAULT;
	if (n > max_response)
		return err_set(e, ERR_TOO_BIG, "JSON-RPC response is %zu bytes, at most %zu allowed",
			       n, max_response);
	rc = json_parse_ex(&doc, body, n, max_response, true, e);
	if (rc) {
		err_wrap(e, "JSON-RPC response");
		return rc;
	}
	if (!json_is_object(doc)) {
		rc = err_set(e, ERR_INVALID, "JSON-RPC response is not an object");
		goto out;
	}
	ver = json_object_get(doc, "jsonrpc");
	if (!ver || !json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
	    json_string_length(ver) != 3) {
		rc = err_set(e, ERR_INVALID, "JSON-RPC response lacks jsonrpc \"2.0\"");
		goto out;
	}
	res = json_object_get(doc, "result");
	error = json_object_get(doc, "error");
	if (res && error) {
		rc = err_set(e, ERR_INVALID, "JSON-RPC response has both 'result' and 'error'");
		goto out;
	}
	if (!res && !error) {
		rc = err_set(e, ERR_INVALID, "JSON-RPC response has neither 'result' nor 'error'");
		goto out;
	}
	id = json_object_get(doc, "id");
	/* An error about an unreadable request may carry id null (JSON-RPC 2.0 §5). */
	if (!(error && id && json_is_null(id))) {
		if (!id || !json_is_integer(id)) {
			rc = err_set(e, ERR_INVALID, "JSON-RPC response has no integer 'id'");
			goto out;
		}
		if (json_integer_value(id) < 0 ||
		    (uint64_t)json_integer_value(id) != expected_id) {
			rc = err_set(e, ERR_INVALID, "JSON-RPC response id %lld, expected %llu",
				     (long long)json_integer_value(id),
				     (unsigned long long)expected_id);
			goto out;
		}
	}
	if (error) {
		rc = rpc_error_decode(error, re, e);
		goto out;
	}
	*result = json_incref((json_t *)res);
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

void rpc_log_release(struct rpc_log *l)
{
	if (!l)
		return;
	free(l->data);
	l->data = NULL;
	l->data_len = 0;
}

void rpc_receipt_release(struct rpc_receipt *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_logs; i++)
		rpc_log_release(&r->logs[i]);
	free(r->logs);
	r->logs = NULL;
	r->n_logs = 0;
}

void rpc_logs_release(struct rpc_logs *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		rpc_log_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

int rpc_log_decode(struct rpc_log *out, const json_t *j, struct err *e)
{
	struct rpc_log l;
	const json_t *topics = NULL;
	int rc;

	memset(&l, 0, sizeof l);
	if (!json_is_object(j))
		return err_set(e, ERR_INVALID, "log is not an object");
	rc = ethjson_get_address(&l.address, j, "address", e);
	if (!rc) rc = json_get(&topics, j, "topics", e);
	if (!rc && !json_is_array(topics))
		rc = err_set(e, ERR_INVALID, "field 'topics' must be an array");
	if (!rc && json_array_size(topics) > RPC_LOG_TOPICS_MAX)
		rc = err_set(e, ERR_INVALID, "log has %zu topics, at most %d",
			     json_array_size(topics), RPC_LOG_TOPICS_MAX);
	for (size_t i = 0; !rc && i < json_array_size(topics); i++)
		rc = json_val_bytes_exact(l.topics[i], 32, json_array_get(topics, i), "topics[]", e);
	if (!rc)
		l.n_topics = json_array_size(topics);
	if (!rc) rc = json_get_u64(&l.block_number, j, "blockNumber", e);
	if (!rc) rc = json_get_bytes_exact(l.block_hash, 32, j, "blockHash", e);
	if (!rc) rc = json_get_bytes_exact(l.tx_hash, 32, j, "transactionHash", e);
	if (!rc) rc = json_get_u64(&l.log_index, j, "logIndex", e);
	if (!rc) {
		rc = json_get_bool(&l.removed, j, "removed", e);
		if (rc == ERR_NOT_FOUND)
			rc = 0, l.removed = false;
	}
	if (!rc) rc = json_get_bytes_alloc(&l.data, &l.data_len, j, "data", RPC_LOG_DATA_MAX, e);
	if (rc) {
		free(l.data);
		err_wrap(e, "log");
		return rc;
	}
	if (l.data_len == 0) {
		free(l.data);
		l.data = NULL;
	}
	*out = l;
	return 0;
}

int rpc_receipt_decode(struct rpc_receipt *out, const json_t *j, struct err *e)
{
	struct rpc_receipt r;
	const json_t *logs = NULL;
	size_t n;
	int rc;

	memset(&r, 0, sizeof r);
	if (!json_is_object(j))
		return err_set(e, ERR_INVALID, "receipt is not an object");
	rc = json_get_bytes_exact(r.tx_hash, 32, j, "transactionHash", e);
	if (!rc) rc = json_get_u64(&r.block_number, j, "blockNumber", e);
	if (!rc) rc = json_get_bytes_exact(r.block_hash, 32, j, "blockHash", e);
	if (!rc) rc = json_get_u64(&r.status, j, "status", e);
	if (!rc && r.status > 1)
		rc = err_set(e, ERR_INVALID, "field 'status' is %llu, not 0 or 1",
			     (unsigned long long)r.status);
	if (!rc) rc = json_get_u64(&r.gas_used, j, "gasUsed", e);
	if (!rc) {
		rc = json_get_u256(&r.effective_gas_price, j, "effectiveGasPrice", e);
		if (rc == ERR_NOT_FOUND)
			rc = 0;
	}
	if (!rc) {
		rc = ethjson_get_address(&r.contract_address, j, "contractAddress", e);
		r.has_contract_address = rc == 0;
		if (rc == ERR_NOT_FOUND)
			rc = 0;
	}
	if (!rc) rc = ethjson_get_address(&r.from, j, "from", e);
	if (!rc) rc = json_get(&logs, j, "logs", e);
	if (!rc && !json_is_array(logs))
		rc = err_set(e, ERR_INVALID, "field 'logs' must be an array");
	if (rc)
		goto fail;
	n = json_array_size(logs);
	if (n > RPC_RECEIPT_LOGS_MAX) {
		rc = err_set(e, ERR_TOO_BIG, "receipt has %zu logs, at most %d", n,
			     RPC_RECEIPT_LOGS_MAX);
		goto fail;
	}
	if (n) {
		r.logs = calloc(n, sizeof *r.logs);
		if (!r.logs) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		rc = rpc_log_decode(&r.logs[i], json_array_get(logs, i), e);
		if (rc) {
			err_wrap(e, "logs[%zu]", i);
			goto fail;
		}
		r.n_logs = i + 1;
	}
	*out = r;
	return 0;
fail:
	rpc_receipt_release(&r);
	err_wrap(e, "receipt");
	return rc;
}

int rpc_block_decode(struct rpc_block *out, const json_t *j, struct err *e)
{
	struct rpc_block b;
	int rc;

	memset(&b, 0, sizeof b);
	if (!json_is_object(j))
		return err_set(e, ERR_INVALID, "block is not an object");
	rc = json_get_u64(&b.number, j, "number", e);
	if (!rc) rc = json_get_bytes_exact(b.hash, 32, j, "hash", e);
	if (!rc) rc = json_get_bytes_exact(b.parent_hash, 32, j, "parentHash", e);
	if (!rc) rc = json_get_u64(&b.timestamp, j, "timestamp", e);
	if (!rc) {
		rc = json_get_u256(&b.base_fee_per_gas, j, "baseFeePerGas", e);
		b.has_base_fee = rc == 0;
		if (rc == ERR_NOT_FOUND)
			rc = 0;
	}
	if (rc) {
		err_wrap(e, "block");
		return rc;
	}
	*out = b;
	return 0;
}

/* ---- transport ---- */

static pthread_once_t rpc_curl_once = PTHREAD_ONCE_INIT;
static CURLcode rpc_curl_init_rc;

static void rpc_curl_global_init(void)
{
	rpc_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int rpc_init(struct rpc *r, const char *url, const struct rpc_opts *opts, struct err *e)
{
	struct rpc tmp;
	struct curl_slist *h = NULL, *h2;
	CURL *c;
	size_t n = strlen(url);

	if (n == 0 || n > RPC_URL_MAX)
		return err_set(e, ERR_INVALID, "RPC URL length %zu not in 1..%d", n, RPC_URL_MAX);
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return err_set(e, ERR_INVALID, "RPC URL must start with http:// or https://");
	pthread_once(&rpc_curl_once, rpc_curl_global_init);
	if (rpc_curl_init_rc != CURLE_OK)
		return err_set(e, ERR_NET, "curl_global_init failed");
	memset(&tmp, 0, sizeof tmp);
	if (opts)
		tmp.opts = *opts;
	if (!tmp.opts.connect_timeout_ms)
		tmp.opts.connect_timeout_ms = 5000;
	if (!tmp.opts.timeout_ms)
		tmp.opts.timeout_ms = 30000;
	if (!opts)
		tmp.opts.max_retries = 3;
	if (tmp.opts.no_retry)
		tmp.opts.max_retries = 0;
	if (tmp.opts.max_retries > 10)
		tmp.opts.max_retries = 10;
	if (!tmp.opts.backoff_ms)
		tmp.opts.backoff_ms = 200;
	if (!tmp.opts.backoff_max_ms)
		tmp.opts.backoff_max_ms = 5000;
	if (!tmp.opts.max_response || tmp.opts.max_response > JSON_INPUT_MAX)
		tmp.opts.max_response = RPC_RESPONSE_MAX_DEFAULT;
	if (!tmp.opts.max_log_range)
		tmp.opts.max_log_range = 10000;
	memcpy(tmp.url, url, n + 1);
	tmp.next_id = 1;

	c = curl_easy_init();
	if (!c)
		return err_set(e, ERR_NOMEM, "curl_easy_init failed");
	h = curl_slist_append(NULL, "Content-Type: application/json");
	h2 = h ? curl_slist_append(h, "Accept: application/json") : NULL;
	if (!h2) {
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	tmp.curl = c;
	tmp.headers = h2;
	*r = tmp;
	return 0;
}

void rpc_release(struct rpc *r)
{
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	curl_slist_free_all(r->headers);
	r->curl = NULL;
	r->headers = NULL;
}

struct rpc_sink {
	struct buf body;  /* response bytes, capped */
	bool overflow;    /* the cap was hit */
};

static size_t rpc_write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct rpc_sink *s = ud;
	size_t n = size * nmemb;

	if (buf_append(&s->body, p, n)) {
		s->overflow = true;
		return 0;
	}
	return n;
}

/* One HTTP POST. Returns 0 with *status set, or a transport error. */
static int rpc_post(struct rpc *r, struct rpc_sink *sink, long *status, const char *req,
		    size_t req_len, struct err *e)
{
	CURL *c = r->curl;
	CURLcode cc;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)r->headers);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req_len);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)r->opts.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->opts.timeout_ms);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->opts.max_response);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rpc_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	r->requests++;
	cc = curl_easy_perform(c);
	if (sink->overflow || cc == CURLE_FILESIZE_EXCEEDED)
		return err_set(e, ERR_TOO_BIG, "RPC response exceeds %zu bytes",
			       r->opts.max_response);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return err_set(e, ERR_TIMEOUT, "RPC request timed out: %s", curl_easy_strerror(cc));
	if (cc != CURLE_OK)
		return err_set(e, ERR_NET, "RPC transport: %s", curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

int rpc_call_ex(struct rpc *r, json_t **result, const char *method, json_t *params,
		struct rpc_error *re, struct err *e)
{
	json_t *req = NULL, *empty = NULL;
	char *text = NULL;
	struct rpc_sink sink;
	unsigned delay_ms;
	uint64_t id;
	int rc = 0;

	if (!r->curl)
		return err_set(e, ERR_STATE, "RPC client not initialised");
	if (!params)
		params = empty = json_array();
	if (!params || !json_is_array(params)) {
		json_decref(empty);
		return err_set(e, ERR_INVALID, "RPC params for %s must be an array", method);
	}
	id = r->next_id++;
	req = json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id", (json_int_t)id,
			"method", method, "params", params);
	json_decref(empty);
	if (req)
		text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return err_set(e, ERR_NOMEM, "cannot build the %s request", method);

	buf_init(&sink.body, r->opts.max_response);
	delay_ms = r->opts.backoff_ms;
	for (unsigned attempt = 0;; attempt++) {
		long status = 0;
		bool retry;

		buf_reset(&sink.body);
		sink.overflow = false;
		rc = rpc_post(r, &sink, &status, text, strlen(text), e);
		if (rc == 0 && status == 200) {
			rc = rpc_response_parse((const char *)sink.body.data, sink.body.len,
						r->opts.max_response, id, result, re, e);
			break;
		}
		if (rc == 0) {
			/* Non-200: retry 429 and 5xx; otherwise prefer the node's error object. */
			retry = status == 429 || status >= 500;
			if (!retry) {
				json_t *ignored = NULL;
				int prc = rpc_response_parse((const char *)sink.body.data, sink.body.len,
							     r->opts.max_response, id, &ignored, re, e);
				json_decref(ignored);
				rc = (prc == ERR_RPC || prc == ERR_REVERT)
					     ? prc
					     : err_set(e, ERR_NET, "RPC %s: HTTP status %ld", method, status);
				break;
			}
			rc = err_set(e, ERR_NET, "RPC %s: HTTP status %ld", method, status);
		} else {
			retry = rc == ERR_NET || rc == ERR_TIMEOUT;
		}
		if (!retry || attempt >= r->opts.max_retries)
			break;
		clock_sleep_ms(delay_ms);
		delay_ms = delay_ms > r->opts.backoff_max_ms / 2 ? r->opts.backoff_max_ms
								 : delay_ms * 2;
	}
	buf_release(&sink.body);
	free(text);
	if (rc)
		err_wrap(e, "%s", method);
	return rc;
}

int rpc_call(struct rpc *r, json_t **result, const char *method, json_t *params,
	     struct err *e)
{
	return rpc_call_ex(r, result, method, params, NULL, e);
}

int rpc_call_text(struct rpc *r, json_t **result, const char *method,
		  const char *params_json, struct err *e)
{
	json_t *params = NULL;
	int rc;

	if (params_json) {
		rc = json_parse(&params, params_json, strlen(params_json), 0, e);
		if (rc)
			return err_wrap(e, "%s params", method), rc;
	}
	rc = rpc_call(r, result, method, params, e);
	json_decref(params);
	return rc;
}

/* ---- methods ---- */

/* Calls method and reads its result as a quantity. */
static int rpc_call_u256(struct rpc *r, u256 *out, const char *method, json_t *params,
			 struct err *e)
{
	json_t *res = NULL;
	int rc = rpc_call(r, &res, method, params, e);

	if (!rc) {
		rc = json_val_u256(out, res, "result", e);
		if (rc)
			err_wrap(e, "%s", method);
	}
	json_decref(res);
	return rc;
}

static int rpc_call_u64(struct rpc *r, uint64_t *out, const char *method, json_t *params,
			struct err *e)
{
	u256 v;
	uint64_t x;
	int rc = rpc_call_u256(r, &v, method, params, e);

	if (rc)
		return rc;
	if (u256_to_u64(&x, &v))
		return err_set(e, ERR_RANGE, "%s: result does not fit in 64 bits", method);
	*out = x;
	return 0;
}

int rpc_chain_id(struct rpc *r, uint64_t *out, struct err *e)
{
	return rpc_call_u64(r, out, "eth_chainId", NULL, e);
}

int rpc_block_number(struct rpc *r, uint64_t *out, struct err *e)
{
	return rpc_call_u64(r, out, "eth_blockNumber", NULL, e);
}

/* [address, tag] params; NULL on ERR_NOMEM. */
static json_t *rpc_params_addr_tag(const struct eth_address *a, const char *tag)
{
	json_t *p = json_array();

	if (!p || json_array_append_new(p, ethjson_address(a)) ||
	    json_array_append_new(p, json_string(tag ? tag : "latest"))) {
		json_decref(p);
		return NULL;
	}
	return p;
}

int rpc_get_tx_count(struct rpc *r, uint64_t *out, const struct eth_address *a,
		     const char *tag, struct err *e)
{
	json_t *p = rpc_params_addr_tag(a, tag);
	int rc;

	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = rpc_call_u64(r, out, "eth_getTransactionCount", p, e);
	json_decref(p);
	return rc;
}

int rpc_get_balance(struct rpc *r, u256 *out, const struct eth_address *a,
		    const char *tag, struct err *e)
{
	json_t *p = rpc_params_addr_tag(a, tag);
	int rc;

	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = rpc_call_u256(r, out, "eth_getBalance", p, e);
	json_decref(p);
	return rc;
}

/* The call object of eth_call / eth_estimateGas; NULL on ERR_NOMEM. */
static json_t *rpc_call_obj(const struct rpc_call_msg *m)
{
	json_t *o = json_object();
	int bad = !o;

	if (!bad && m->has_from)
		bad |= json_object_set_new(o, "from", ethjson_address(&m->from));
	if (!bad && m->has_to)
		bad |= json_object_set_new(o, "to", ethjson_address(&m->to));
	if (!bad && m->has_value)
		bad |= json_object_set_new(o, "value", json_hex_u256(&m->value));
	if (!bad && m->has_gas)
		bad |= json_object_set_new(o, "gas", json_hex_u64(m->gas));
	if (!bad && m->data_len)
		bad |= json_object_set_new(o, "data", json_hex_bytes(m->data, m->data_len));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int rpc_estimate_gas(struct rpc *r, uint64_t *out, const struct rpc_call_msg *m,
		     struct err *e)
{
	json_t *p = json_array(), *o = rpc_call_obj(m);
	int rc;

	if (!p || !o || json_array_append_new(p, o)) {
		json_decref(p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = rpc_call_u64(r, out, "eth_estimateGas", p, e);
	json_decref(p);
	return rc;
}

int rpc_eth_call(struct rpc *r, struct buf *out, const struct rpc_call_msg *m,
		 const char *tag, struct buf *revert, struct err *e)
{
	json_t *p = json_array(), *o = rpc_call_obj(m), *res = NULL;
	struct rpc_error re;
	uint8_t *bytes = NULL;
	size_t n = 0;
	int rc;

	memset(&re, 0, sizeof re);
	if (!p || !o || json_array_append_new(p, o) ||
	    json_array_append_new(p, json_string(tag ? tag : "latest"))) {
		json_decref(p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = rpc_call_ex(r, &res, "eth_call", p, &re, e);
	json_decref(p);
	if (rc == ERR_REVERT) {
		if (revert && re.has_data && buf_append(revert, re.data, re.data_len))
			rc = err_set(e, ERR_TOO_BIG, "eth_call: revert data does not fit");
		rpc_error_release(&re);
		return rc;
	}
	rpc_error_release(&re);
	if (rc)
		return rc;
	rc = json_val_bytes_alloc(&bytes, &n, res, "result", RPC_CALL_RESULT_MAX, e);
	json_decref(res);
	if (rc)
		return err_wrap(e, "eth_call"), rc;
	if (buf_append(out, bytes, n))
		rc = err_set(e, ERR_TOO_BIG, "eth_call: return data does not fit");
	free(bytes);
	return rc;
}

int rpc_suggest_fees(struct rpc *r, u256 *max_fee, u256 *max_priority_fee, struct err *e)
{
	json_t *hist = NULL;
	const json_t *bases = NULL, *rewards = NULL;
	u256 base, tip, fee, two = u256_from_u64(2);
	bool have_tip = false, have_base = false;
	int rc;

	rc = rpc_call_u256(r, &tip, "eth_maxPriorityFeePerGas", NULL, NULL);
	have_tip = rc == 0;
	rc = rpc_call_text(r, &hist, "eth_feeHistory", "[\"0x5\", \"latest\", [50]]", NULL);
	if (rc == 0 && json_get(&bases, hist, "baseFeePerGas", NULL) == 0 &&
	    json_is_array(bases) && json_array_size(bases) > 0) {
		have_base = json_val_u256(&base, json_array_get(bases, json_array_size(bases) - 1),
					  "baseFeePerGas[]", NULL) == 0;
	}
	if (rc == 0 && !have_tip && json_get(&rewards, hist, "reward", NULL) == 0 &&
	    json_is_array(rewards) && json_array_size(rewards) > 0) {
		/* The latest block's 50th-percentile reward. */
		const json_t *last = json_array_get(rewards, json_array_size(rewards) - 1);
		if (json_is_array(last) && json_array_size(last) > 0)
			have_tip = json_val_u256(&tip, json_array_get(last, 0), "reward", NULL) == 0;
	}
	json_decref(hist);
	if (!have_base) {
		struct rpc_block b;
		rc = rpc_get_block(r, &b, "latest", e);
		if (rc)
			return err_wrap(e, "fee suggestion"), rc;
		if (!b.has_base_fee)
			return err_set(e, ERR_UNSUPPORTED, "chain has no EIP-1559 base fee");
		base = b.base_fee_per_gas;
	}
	if (!have_tip)
		tip = u256_from_u64(0);
	if (u256_mul(&fee, &base, &two) || u256_add(&fee, &fee, &tip))
		return err_set(e, ERR_RANGE, "fee suggestion overflows");
	*max_fee = fee;
	*max_priority_fee = tip;
	return 0;
}

/* True when a node's rejection message says it already has this tx. */
static bool rpc_msg_known(const char *m)
{
	return strcasestr(m, "already known") || strcasestr(m, "known transaction") ||
	       strcasestr(m, "already imported") || strcasestr(m, "already in the pool") ||
	       strcasestr(m, "already exists");
}

int rpc_send_raw_tx(struct rpc *r, uint8_t hash32[32], const uint8_t *raw, size_t n,
		    struct err *e)
{
	json_t *p = json_array(), *res = NULL;
	struct rpc_error re;
	uint8_t h[32];
	int rc;

	memset(&re, 0, sizeof re);
	if (!p || json_array_append_new(p, json_hex_bytes(raw, n))) {
		json_decref(p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	keccak256(h, raw, n);
	rc = rpc_call_ex(r, &res, "eth_sendRawTransaction", p, &re, e);
	json_decref(p);
	if (rc == ERR_RPC || rc == ERR_REVERT) {
		if (rpc_msg_known(re.message))
			rc = 0;
		else if (strcasestr(re.message, "nonce too low") ||
			 strcasestr(re.message, "nonce is too low") ||
			 strcasestr(re.message, "NonceTooLow") ||
			 strcasestr(re.message, "nonce has already been used"))
			rc = err_set(e, ERR_CONFLICT, "eth_sendRawTransaction: nonce too low (%s)",
				     re.message);
	} else if (rc == 0) {
		uint8_t got[32];
		if (json_val_bytes_exact(got, 32, res, "result", e) == 0 && memcmp(got, h, 32) != 0)
			rc = err_set(e, ERR_INVALID,
				     "eth_sendRawTransaction: node returned another tx hash");
	}
	rpc_error_release(&re);
	json_decref(res);
	if (rc)
		return rc;
	if (hash32)
		memcpy(hash32, h, 32);
	return 0;
}

int rpc_get_receipt(struct rpc *r, struct rpc_receipt *out, const uint8_t hash32[32],
		    struct err *e)
{
	json_t *p = json_array(), *res = NULL;
	int rc;

	if (!p || json_array_append_new(p, json_hex_bytes(hash32, 32))) {
		json_decref(p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = rpc_call(r, &res, "eth_getTransactionReceipt", p, e);
	json_decref(p);
	if (rc)
		return rc;
	if (json_is_null(res))
		rc = err_set(e, ERR_NOT_FOUND, "no receipt yet");
	else
		rc = rpc_receipt_decode(out, res, e);
	json_decref(res);
	return rc;
}

int rpc_wait_receipt(struct rpc *r, struct rpc_receipt *out, const uint8_t hash32[32],
		     uint64_t confirmations, unsigned timeout_ms, unsigned poll_ms,
		     struct err *e)
{
	uint64_t deadline = clock_mono_ms() + timeout_ms;
	struct rpc_receipt rec;
	int rc;

	if (!poll_ms)
		poll_ms = 200;
	if (!confirmations)
		confirmations = 1;
	for (;;) {
		uint64_t head;
		rc = rpc_get_receipt(r, &rec, hash32, e);
		if (rc == 0) {
			rc = rpc_block_number(r, &head, e);
			if (rc) {
				rpc_receipt_release(&rec);
				return rc;
			}
			if (head >= rec.block_number && head - rec.block_number + 1 >= confirmations) {
				struct rpc_receipt again;
				rc = rpc_get_receipt(r, &again, hash32, e);
				if (rc == 0 && memcmp(again.block_hash, rec.block_hash, 32) == 0) {
					rpc_receipt_release(&rec);
					*out = again;
					return 0;
				}
				if (rc == 0)
					rpc_receipt_release(&again);
			}
			rpc_receipt_release(&rec);
		}
		if (rc && rc != ERR_NOT_FOUND && rc != ERR_NET && rc != ERR_TIMEOUT)
			return rc;
		if (clock_mono_ms() >= deadline)
			return err_set(e, ERR_TIMEOUT, "no receipt with %llu confirmations within %u ms",
				       (unsigned long long)confirmations, timeout_ms);
		clock_sleep_ms(poll_ms);
	}
}

static int rpc_get_block_param(struct rpc *r, struct rpc_block *out, json_t *which,
			       struct err *e)
{
	json_t *p = json_array(), *res = NULL;
	int rc;

	if (!p || !which || json_array_append_new(p, which) ||
	    json_array_append_new(p, json_false())) {
		json_decref(p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = rpc_call(r, &res, "eth_getBlockByNumber", p, e);
	json_decref(p);
	if (rc)
		return rc;
	if (json_is_null(res))
		rc = err_set(e, ERR_NOT_FOUND, "no such block");
	else
		rc = rpc_block_decode(out, res, e);
	json_decref(res);
	return rc;
}

int rpc_get_block(struct rpc *r, struct rpc_block *out, const char *tag, struct err *e)
{
	return rpc_get_block_param(r, out, json_string(tag ? tag : "latest"), e);
}

int rpc_get_block_by_number(struct rpc *r, struct rpc_block *out, uint64_t number,
			    struct err *e)
{
	return rpc_get_block_param(r, out, json_hex_u64(number), e);
}

/* Filter object for one block range; NULL on ERR_NOMEM. */
static json_t *rpc_filter_obj(const struct rpc_log_filter *f, uint64_t from, uint64_t to)
{
	json_t *o = json_object();
	int bad = !o;
	size_t last = 0;

	if (!bad)
		bad |= json_object_set_new(o, "fromBlock", json_hex_u64(from));
	if (!bad)
		bad |= json_object_set_new(o, "toBlock", json_hex_u64(to));
	if (!bad && f->n_addresses) {
		json_t *a = json_array();
		bad |= !a;
		for (size_t i = 0; !bad && i < f->n_addresses; i++)
			bad |= json_array_append_new(a, ethjson_address(&f->addresses[i]));
		if (!bad)
			bad |= json_object_set_new(o, "address", a);
		else
			json_decref(a);
	}
	for (size_t i = 0; i < RPC_LOG_TOPICS_MAX; i++)
		if (f->has_topic[i])
			last = i + 1;
	if (!bad && last) {
		json_t *t = json_array();
		bad |= !t;
		for (size_t i = 0; !bad && i < last; i++)
			bad |= json_array_append_new(t, f->has_topic[i] && f->topics
								? json_hex_bytes(f->topics[i], 32)
								: json_null());
		if (!bad)
			bad |= json_object_set_new(o, "topics", t);
		else
			json_decref(t);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* True when a node refused a log query for its size. */
static bool rpc_logs_too_big(int rc, const struct rpc_error *re)
{
	if (rc == ERR_TOO_BIG)
		return true;
	if (rc != ERR_RPC)
		return false;
	return re->code == -32005 || strcasestr(re->message, "too many") ||
	       strcasestr(re->message, "limit") || strcasestr(re->message, "exceed") ||
	       strcasestr(re->message, "range") || strcasestr(re->message, "too large") ||
	       strcasestr(re->message, "more than");
}

static int rpc_logs_push(struct rpc_logs *out, struct rpc_log *l, size_t max, struct err *e)
{
	if (out->n >= max)
		return err_set(e, ERR_TOO_BIG, "eth_getLogs: more than %zu logs", max);
	if (out->n == out->cap) {
		size_t ncap = out->cap ? out->cap * 2 : 16;
		struct rpc_log *v = realloc(out->v, ncap * sizeof *v);
		if (!v)
			return err_set(e, ERR_NOMEM, "out of memory");
		out->v = v;
		out->cap = ncap;
	}
	out->v[out->n++] = *l;
	return 0;
}

static int rpc_logs_range(struct rpc *r, struct rpc_logs *out, const struct rpc_log_filter *f,
			  uint64_t from, uint64_t to, size_t max, unsigned depth, struct err *e)
{
	json_t *p = json_array(), *o = rpc_filter_obj(f, from, to), *res = NULL;
	struct rpc_error re;
	int rc;

	memset(&re, 0, sizeof re);
	if (!p || !o || json_array_append_new(p, o)) {
		json_decref(p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = rpc_call_ex(r, &res, "eth_getLogs", p, &re, e);
	json_decref(p);
	if (rc && rpc_logs_too_big(rc, &re) && from < to && depth < 64) {
		uint64_t mid = from + (to - from) / 2;
		rpc_error_release(&re);
		rc = rpc_logs_range(r, out, f, from, mid, max, depth + 1, e);
		if (!rc)
			rc = rpc_logs_range(r, out, f, mid + 1, to, max, depth + 1, e);
		return rc;
	}
	rpc_error_release(&re);
	if (rc)
		return rc;
	if (!json_is_array(res)) {
		json_decref(res);
		return err_set(e, ERR_INVALID, "eth_getLogs: result is not an array");
	}
	for (size_t i = 0; !rc && i < json_array_size(res); i++) {
		struct rpc_log l;
		rc = rpc_log_decode(&l, json_array_get(res, i), e);
		if (rc) {
			err_wrap(e, "eth_getLogs result[%zu]", i);
			break;
		}
		rc = rpc_logs_push(out, &l, max, e);
		if (rc)
			rpc_log_release(&l);
	}
	json_decref(res);
	return rc;
}

int rpc_get_logs(struct rpc *r, struct rpc_logs *out, const struct rpc_log_filter *f,
		 struct err *e)
{
	struct rpc_logs acc = { 0 };
	size_t max = f->max_logs ? f->max_logs : RPC_LOGS_MAX_DEFAULT;
	uint64_t step = r->opts.max_log_range;
	int rc = 0;

	if (f->from_block > f->to_block)
		return err_set(e, ERR_INVALID, "eth_getLogs: fromBlock %llu after toBlock %llu",
			       (unsigned long long)f->from_block, (unsigned long long)f->to_block);
	if (f->n_addresses > 1000)
		return err_set(e, ERR_TOO_BIG, "eth_getLogs: more than 1000 addresses");
	for (uint64_t from = f->from_block;;) {
		uint64_t to = f->to_block - from >= step ? from + step - 1 : f->to_block;
		rc = rpc_logs_range(r, &acc, f, from, to, max, 0, e);
		if (rc || to == f->to_block)
			break;
		from = to + 1;
	}
	if (rc) {
		rpc_logs_release(&acc);
		return rc;
	}
	/* Append to the caller's list only on success. */
	if (acc.n && out->n + acc.n > out->cap) {
		struct rpc_log *v = realloc(out->v, (out->n + acc.n) * sizeof *v);
		if (!v) {
			rpc_logs_release(&acc);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		out->v = v;
		out->cap = out->n + acc.n;
	}
	if (acc.n)
		memcpy(out->v + out->n, acc.v, acc.n * sizeof *acc.v);
	out->n += acc.n;
	free(acc.v);
	return 0;
}
