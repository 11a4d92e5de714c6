/*
 * rpc.h — Ethereum JSON-RPC 2.0 client over HTTP(S) (libcurl).
 *
 * Transport: one POST per call with connect and total timeouts, a cap on the
 * response size, and bounded retries with exponential backoff on transport
 * failures and HTTP 5xx/429. A JSON-RPC error object is an answer, never
 * retried. Retrying eth_sendRawTransaction is safe: the same signed bytes
 * are the same transaction, and a node that already has it answers "already
 * known", which rpc_send_raw_tx reports as success.
 *
 * Decoding is split from transport: rpc_response_parse and the
 * rpc_*_decode functions are pure functions over bytes / JSON (no socket),
 * strict about the envelope (jsonrpc "2.0", matching id, exactly one of
 * result and error) and about every field they read, so they can be fuzzed.
 *
 * Quantities follow the Ethereum JSON-RPC spec: 0x-hex strings. Block tags
 * are "latest", "pending", "earliest", "safe", "finalized" or a number.
 * Only this file in src/eth does network I/O; nothing here logs.
 */
#ifndef FLOP_ETH_RPC_H
#define FLOP_ETH_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/u256.h"
#include "eth/address.h"

struct err;

#define RPC_URL_MAX 2048                      /* longest endpoint URL */
#define RPC_RESPONSE_MAX_DEFAULT ((size_t)16 << 20) /* 16 MiB */
#define RPC_ERROR_MSG_MAX 200                 /* error message bytes kept */
#define RPC_ERROR_DATA_MAX ((size_t)64 << 10) /* revert data bytes kept */
#define RPC_LOG_TOPICS_MAX 4                  /* EVM LOG0..LOG4 */
#define RPC_LOG_DATA_MAX ((size_t)1 << 20)    /* one log's data */
#define RPC_RECEIPT_LOGS_MAX 4096             /* logs in one receipt */
#define RPC_LOGS_MAX_DEFAULT 10000            /* logs returned by one rpc_get_logs */
#define RPC_CALL_RESULT_MAX ((size_t)1 << 20) /* eth_call return data */

/* Client knobs; zero fields take the defaults noted. */
struct rpc_opts {
	unsigned connect_timeout_ms; /* TCP/TLS connect, default 5000 */
	unsigned timeout_ms;         /* whole request, default 30000 */
	unsigned max_retries;        /* extra attempts after the first, default 3 */
	unsigned backoff_ms;         /* first retry delay, doubles each time, default 200 */
	unsigned backoff_max_ms;     /* retry delay cap, default 5000 */
	size_t max_response;         /* response body cap, default RPC_RESPONSE_MAX_DEFAULT */
	uint64_t max_log_range;      /* blocks per eth_getLogs request, default 10000 */
	bool no_retry;               /* true: never retry (set max_retries 0) */
};

/* A client. The caller owns the struct; rpc owns its interior. Not thread-safe. */
struct rpc {
	void *curl;                  /* CURL easy handle */
	void *headers;               /* struct curl_slist * */
	char url[RPC_URL_MAX + 1];   /* endpoint */
	struct rpc_opts opts;        /* effective options */
	uint64_t next_id;            /* id of the next request */
	uint64_t requests;           /* HTTP attempts made (for tests and metrics) */
};

/* Details of a JSON-RPC error object, kept for callers that want them. */
struct rpc_error {
	int64_t code;                       /* error.code */
	char message[RPC_ERROR_MSG_MAX + 1]; /* error.message, truncated */
	uint8_t *data;                      /* error.data when it is 0x-hex (revert data), owned */
	size_t data_len;                    /* bytes in data */
	bool has_data;                      /* data holds decoded bytes */
};

/* Frees the data bytes; NULL allowed. */
void rpc_error_release(struct rpc_error *re);

/*
 * Parses one JSON-RPC 2.0 response body (n bytes, capped at max_response or
 * RPC_RESPONSE_MAX_DEFAULT when 0). On success *result holds a new
 * reference to the result value (json_decref it; may be JSON null).
 * A well-formed error object returns ERR_RPC (ERR_REVERT when it reports an
 * execution revert) with code/message in `e` and, when `re` is not NULL,
 * the details in *re (rpc_error_release it). Envelope problems — bad JSON,
 * not an object, jsonrpc != "2.0", id mismatch, both or neither of result
 * and error — are ERR_INVALID; oversize is ERR_TOO_BIG; nesting deeper
 * than JSON_MAX_DEPTH is ERR_DEPTH. *result is untouched on failure.
 */
int rpc_response_parse(const char *body, size_t n, size_t max_response,
		       uint64_t expected_id, json_t **result, struct rpc_error *re,
		       struct err *e);

/* ---- decoded objects ---- */

struct rpc_log {
	struct eth_address address;              /* emitting contract */
	uint8_t topics[RPC_LOG_TOPICS_MAX][32];  /* topics[0..n_topics) */
	size_t n_topics;                         /* 0..4 */
	uint8_t *data;                           /* non-indexed data, owned (NULL when empty) */
	size_t data_len;                         /* bytes in data */
	uint64_t block_number;                   /* block holding the log */
	uint8_t block_hash[32];                  /* its hash */
	uint8_t tx_hash[32];                     /* transaction that emitted it */
	uint64_t log_index;                      /* position in the block */
	bool removed;                            /* true when dropped by a reorg */
};

struct rpc_receipt {
	uint8_t tx_hash[32];                /* transactionHash */
	uint64_t block_number;              /* blockNumber */
	uint8_t block_hash[32];             /* blockHash */
	uint64_t status;                    /* 1 success, 0 reverted */
	uint64_t gas_used;                  /* gasUsed */
	u256 effective_gas_price;           /* effectiveGasPrice (0 when absent) */
	bool has_contract_address;          /* contractAddress present (creation) */
	struct eth_address contract_address;
	struct eth_address from;            /* from */
	struct rpc_log *logs;               /* owned array */
	size_t n_logs;
};

struct rpc_block {
	uint64_t number;
	uint8_t hash[32];
	uint8_t parent_hash[32];
	uint64_t timestamp;                 /* seconds since the epoch */
	bool has_base_fee;                  /* baseFeePerGas present (London+) */
	u256 base_fee_per_gas;
};

/* A growable list of logs (owned). */
struct rpc_logs {
	struct rpc_log *v;
	size_t n;
	size_t cap;
};

void rpc_log_release(struct rpc_log *l);
void rpc_receipt_release(struct rpc_receipt *r);
void rpc_logs_release(struct rpc_logs *l);

/* Pure decoders of JSON objects; outputs untouched on failure. */
int rpc_log_decode(struct rpc_log *out, const json_t *j, struct err *e);
int rpc_receipt_decode(struct rpc_receipt *out, const json_t *j, struct err *e);
int rpc_block_decode(struct rpc_block *out, const json_t *j, struct err *e);

/* ---- client ---- */

/* Sets up a client for `url` (http:// or https:// only). opts NULL = defaults. */
int rpc_init(struct rpc *r, const char *url, const struct rpc_opts *opts, struct err *e);
void rpc_release(struct rpc *r);

/*
 * Calls `method` with `params` (a JSON array, borrowed; NULL means []) and
 * stores a new reference to the result in *result. Retries as described in
 * the file header. Errors: ERR_NET, ERR_TIMEOUT, ERR_RPC / ERR_REVERT
 * (details in *re when not NULL), ERR_INVALID, ERR_TOO_BIG.
 */
int rpc_call_ex(struct rpc *r, json_t **result, const char *method, json_t *params,
		struct rpc_error *re, struct err *e);
int rpc_call(struct rpc *r, json_t **result, const char *method, json_t *params,
	     struct err *e);
/* Same with params given as JSON text, e.g. "[\"0x1\", true]". */
int rpc_call_text(struct rpc *r, json_t **result, const char *method,
		  const char *params_json, struct err *e);

int rpc_chain_id(struct rpc *r, uint64_t *out, struct err *e);
int rpc_block_number(struct rpc *r, uint64_t *out, struct err *e);
/* eth_getTransactionCount at `tag` ("pending" or "latest"). */
int rpc_get_tx_count(struct rpc *r, uint64_t *out, const struct eth_address *a,
		     const char *tag, struct err *e);
int rpc_get_balance(struct rpc *r, u256 *out, const struct eth_address *a,
		    const char *tag, struct err *e);

/* A message call for eth_call / eth_estimateGas; optional fields by flag. */
struct rpc_call_msg {
	bool has_from;
	struct eth_address from;
	bool has_to;                 /* false: contract creation (estimate only) */
	struct eth_address to;
	bool has_value;
	u256 value;
	bool has_gas;
	uint64_t gas;
	const uint8_t *data;         /* borrowed calldata */
	size_t data_len;
};

int rpc_estimate_gas(struct rpc *r, uint64_t *out, const struct rpc_call_msg *m,
		     struct err *e);

/*
 * eth_call at `tag`; appends the return data to `out`. A revert is
 * ERR_REVERT and, when `revert` is not NULL, the raw revert bytes are
 * appended to it (possibly none).
 */
int rpc_eth_call(struct rpc *r, struct buf *out, const struct rpc_call_msg *m,
		 const char *tag, struct buf *revert, struct err *e);

/*
 * Fee suggestion for an EIP-1559 tx: tip from eth_maxPriorityFeePerGas
 * (falling back to the eth_feeHistory median reward), base fee of the next
 * block from eth_feeHistory (falling back to the latest block's
 * baseFeePerGas); max_fee = 2*base + tip.
 */
int rpc_suggest_fees(struct rpc *r, u256 *max_fee, u256 *max_priority_fee, struct err *e);

/*
 * eth_sendRawTransaction. Writes keccak256(raw) to hash32 (when not NULL).
 * A node reply of "already known" / "known transaction" is success.
 * "nonce too low" is ERR_CONFLICT (the nonce is used — maybe by this very
 * tx); other rejections are ERR_RPC with the node's message.
 */
int rpc_send_raw_tx(struct rpc *r, uint8_t hash32[32], const uint8_t *raw, size_t n,
		    struct err *e);

/* eth_getTransactionReceipt; ERR_NOT_FOUND while the tx is not mined. */
int rpc_get_receipt(struct rpc *r, struct rpc_receipt *out, const uint8_t hash32[32],
		    struct err *e);

/*
 * Polls for the receipt until its block has `confirmations` blocks on top
 * of and including it (1 = mined), then re-reads the receipt so a reorged
 * block is not reported. Polls every poll_ms (0: 200 ms). ERR_TIMEOUT
 * after timeout_ms.
 */
int rpc_wait_receipt(struct rpc *r, struct rpc_receipt *out, const uint8_t hash32[32],
		     uint64_t confirmations, unsigned timeout_ms, unsigned poll_ms,
		     struct err *e);

/* eth_getBlockByNumber(tag or number, false). ERR_NOT_FOUND for an unknown block. */
int rpc_get_block(struct rpc *r, struct rpc_block *out, const char *tag, struct err *e);
int rpc_get_block_by_number(struct rpc *r, struct rpc_block *out, uint64_t number,
			    struct err *e);

/* eth_getLogs filter: block range, optional addresses, optional topic per position. */
struct rpc_log_filter {
	uint64_t from_block;
	uint64_t to_block;                       /* inclusive */
	const struct eth_address *addresses;     /* NULL / n_addresses 0: any */
	size_t n_addresses;
	const uint8_t (*topics)[32];             /* topics[i] used when has_topic[i] */
	bool has_topic[RPC_LOG_TOPICS_MAX];
	size_t max_logs;                         /* cap on logs returned, 0: RPC_LOGS_MAX_DEFAULT */
};

/*
 * eth_getLogs over [from_block, to_block], requested in chunks of at most
 * opts.max_log_range blocks; a chunk the node refuses as too large ("too
 * many results", "limit exceeded", "range") is split in halves down to one
 * block. Logs are appended to *out in order. ERR_TOO_BIG past max_logs.
 */
int rpc_get_logs(struct rpc *r, struct rpc_logs *out, const struct rpc_log_filter *f,
		 struct err *e);

#endif
