/*
 * test_eip712.c — EIP-712 typed data: encodeType, typeHash, hashStruct,
 * domain separator, digest, signing, and the JSON and C entry points.
 *
 * Vectors:
 *  - "Mail" example of EIP-712 (ethereum/EIPs assets/eip-712/Example.js and
 *    Example.sol): encodeType, domain separator 0xf2cee375...090f,
 *    hashStruct(message) 0xc52c0ee5...371e, digest 0xbe609aee...7bd2,
 *    signature by keccak256("cow") v = 28, r = 0x4355c47d...1c9d,
 *    s = 0x07299936...1562, signer 0xCD2a3d9F...D826. typeHash(Mail)
 *    0xa0cedeb2...dac2 is the value in Example.js.
 *  - The arrays / nested arrays case (MAIL2), the Offer case and the
 *    Z/Y/A/B sort case were computed independently with the pinned npm
 *    ethers 6.17.0: TypedDataEncoder.from(types).encodeType(..)/hashStruct(..),
 *    TypedDataEncoder.hashDomain(domain), TypedDataEncoder.hash(..).
 * JSON documents are written with ' for " to keep them readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/err.h"
#include "core/hex.h"
#include "eth/address.h"
#include "eth/eip712.h"
#include "eth/keccak.h"
#include "eth/secp.h"

/* Returns a malloc'd copy of s with every ' turned into ". */
static char *dq(const char *s)
{
	char *o = strdup(s);
	assert_non_null(o);
	for (char *p = o; *p; p++)
		if (*p == '\'')
			*p = '"';
	return o;
}

static void assert_hex32(const uint8_t h[32], const char *want)
{
	char got[67];
	hex_encode_0x(got, h, 32);
	assert_string_equal(got, want);
}

#define MAIL_TYPES                                                                    \
	"'EIP712Domain':[{'name':'name','type':'string'},{'name':'version','type':'string'}," \
	"{'name':'chainId','type':'uint256'},{'name':'verifyingContract','type':'address'}]," \
	"'Person':[{'name':'name','type':'string'},{'name':'wallet','type':'address'}],"      \
	"'Mail':[{'name':'from','type':'Person'},{'name':'to','type':'Person'},"              \
	"{'name':'contents','type':'string'}]"
#define MAIL_DOMAIN                                                        \
	"{'name':'Ether Mail','version':'1','chainId':1,"                   \
	"'verifyingContract':'0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC'}"
#define MAIL_MSG                                                                        \
	"{'from':{'name':'Cow','wallet':'0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826'},"     \
	"'to':{'name':'Bob','wallet':'0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB'},"        \
	"'contents':'Hello, Bob!'}"
#define MAIL_DOC \
	"{'types':{" MAIL_TYPES "},'primaryType':'Mail','domain':" MAIL_DOMAIN ",'message':" MAIL_MSG "}"

static void test_mail_example(void **state)
{
	char *doc = dq(MAIL_DOC);
	json_t *root, *types;
	struct eip712_types *t;
	struct eip712_hashes h;
	struct buf b;
	uint8_t th[32], k[32], sig[65], want[65];
	struct eth_address signer;
	char addr[ADDRESS_STR_MAX];
	struct err e = { 0 };

	(void)state;
	root = json_loads(doc, 0, NULL);
	assert_non_null(root);
	types = json_object_get(root, "types");
	assert_int_equal(eip712_types_from_json(&t, types, &e), 0);
	buf_init(&b, 4096);
	assert_int_equal(eip712_encode_type(&b, t, "Mail", &e), 0);
	assert_string_equal(buf_cstr(&b),
			    "Mail(Person from,Person to,string contents)Person(string name,address wallet)");
	buf_release(&b);
	assert_int_equal(eip712_type_hash(th, t, "Mail", &e), 0);
	assert_hex32(th, "0xa0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2");
	assert_int_equal(eip712_hash_struct_json(th, t, "Mail", json_object_get(root, "message"),
						 NULL, &e), 0);
	assert_hex32(th, "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
	assert_int_equal(eip712_type_hash(th, t, "Nope", &e), ERR_NOT_FOUND);
	eip712_types_free(t);
	json_decref(root);

	assert_int_equal(eip712_json_hash(&h, doc, strlen(doc), &e), 0);
	assert_hex32(h.domain_separator, "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
	assert_hex32(h.message_hash, "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
	assert_hex32(h.digest, "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");

	/* Sign with keccak256("cow"): the EIP's published v, r, s. */
	keccak256(k, (const uint8_t *)"cow", 3);
	assert_int_equal(eip712_json_sign(sig, doc, strlen(doc), k, &e), 0);
	assert_int_equal(hex_decode_exact(want, 64,
		"4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
		"07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562", NULL), 0);
	want[64] = 28;
	assert_memory_equal(sig, want, 65);
	assert_int_equal(eip712_json_recover(&signer, doc, strlen(doc), sig, &e), 0);
	address_to_checksum(addr, &signer);
	assert_string_equal(addr, "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826");
	free(doc);

	/* The EIP712Domain type may be left out: derived from the domain keys. */
	doc = dq("{'types':{'Person':[{'name':'name','type':'string'},{'name':'wallet','type':'address'}],"
		 "'Mail':[{'name':'from','type':'Person'},{'name':'to','type':'Person'},"
		 "{'name':'contents','type':'string'}]},'primaryType':'Mail','domain':" MAIL_DOMAIN
		 ",'message':" MAIL_MSG "}");
	assert_int_equal(eip712_json_hash(&h, doc, strlen(doc), &e), 0);
	assert_hex32(h.digest, "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
	free(doc);
}

/* The Mail example through the C API: same hashes as the JSON path. */
static void test_mail_c_api(void **state)
{
	static const char decl[] = "Mail(Person from,Person to,string contents)"
				   "Person(string name,address wallet)";
	struct eth_address cow, bob, vc;
	struct eip712_types *t;
	uint8_t h[32], ds[32], dg[32];
	struct err e = { 0 };

	(void)state;
	assert_int_equal(address_parse(&cow, "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", &e), 0);
	assert_int_equal(address_parse(&bob, "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB", &e), 0);
	assert_int_equal(address_parse(&vc, "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC", &e), 0);
	struct eip712_val from[] = { eip712_str("Cow"), eip712_address(&cow) };
	struct eip712_val to[] = { eip712_str("Bob"), eip712_address(&bob) };
	struct eip712_val mail[] = { eip712_struct(from, 2), eip712_struct(to, 2),
				     eip712_str("Hello, Bob!") };
	struct eip712_domain dom = { .name = "Ether Mail", .version = "1", .has_chain_id = true,
				     .chain_id = 1, .verifying_contract = &vc };

	assert_int_equal(eip712_types_parse(&t, decl, &e), 0);
	assert_string_equal(eip712_types_primary(t), "Mail");
	assert_int_equal(eip712_hash_struct_vals(h, t, "Mail", mail, 3, &e), 0);
	assert_hex32(h, "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
	/* A member passed pre-encoded as its word gives the same hash. */
	uint8_t pw[32];
	assert_int_equal(eip712_hash_struct_vals(pw, t, "Person", to, 2, &e), 0);
	mail[1] = eip712_word(pw);
	assert_int_equal(eip712_hash_struct_vals(h, t, "Mail", mail, 3, &e), 0);
	assert_hex32(h, "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
	eip712_types_free(t);

	assert_int_equal(eip712_domain_separator(ds, &dom, &e), 0);
	assert_hex32(ds, "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, mail, 3, &e), 0);
	assert_hex32(dg, "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
	/* Other type order in the declaration: same result (primary stays first). */
	assert_int_equal(eip712_digest_vals(dg, &dom, "Mail(Person from,Person to,string contents)"
					    "Person(string name,address wallet)", mail, 3, &e), 0);
	assert_hex32(dg, "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
}

/* Arrays, arrays of structs, nested arrays, all five domain members. */
#define MAIL2_DOC                                                                                 \
	"{'types':{'EIP712Domain':[{'name':'name','type':'string'},{'name':'version','type':'string'}," \
	"{'name':'chainId','type':'uint256'},{'name':'verifyingContract','type':'address'},"            \
	"{'name':'salt','type':'bytes32'}],"                                                            \
	"'Person':[{'name':'name','type':'string'},{'name':'wallets','type':'address[]'}],"             \
	"'Mail':[{'name':'from','type':'Person'},{'name':'to','type':'Person[]'},"                      \
	"{'name':'contents','type':'string'},{'name':'teams','type':'Person[][]'},"                     \
	"{'name':'matrix','type':'int16[2][]'},{'name':'flags','type':'bool[3]'},"                      \
	"{'name':'tag','type':'bytes4'},{'name':'blob','type':'bytes'},{'name':'nonce','type':'uint256'}," \
	"{'name':'delta','type':'int64'},{'name':'attachments','type':'bytes[]'}]},"                    \
	"'primaryType':'Mail',"                                                                         \
	"'domain':{'name':'Ether Mail','version':'1','chainId':'0x89',"                                 \
	"'verifyingContract':'0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC',"                             \
	"'salt':'0xf2d857f4a3edcb9b78b4d503bfe733db1e3f6cdc2b7971ee739626c97e86a558'},"                 \
	"'message':{'from':{'name':'Cow','wallets':['0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826',"      \
	"'0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF']},"                                               \
	"'to':[{'name':'Bob','wallets':['0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB',"                  \
	"'0xB0BdaBea57B0BDABeA57b0bdABEA57b0BDabEa57','0xB0B0b0b0b0b0B000000000000000000000000000']}]," \
	"'contents':'Hello, Bob!',"                                                                     \
	"'teams':[[{'name':'A','wallets':[]},{'name':'B','wallets':"                                    \
	"['0x0000000000000000000000000000000000000001']}],[],"                                          \
	"[{'name':'C','wallets':['0x00000000000000000000000000000000000000ff']}]],"                     \
	"'matrix':[[1,-1],['-32768','32767'],['0x10','-0x10']],"                                        \
	"'flags':[true,false,true],'tag':'0xdeadbeef','blob':'0x',"                                     \
	"'nonce':'115792089237316195423570985008687907853269984665640564039457584007913129639935',"     \
	"'delta':-9007199254740993,'attachments':['0x00','0x0102030405']}}"

static void test_arrays_nested(void **state)
{
	char *doc = dq(MAIL2_DOC);
	json_t *root;
	struct eip712_types *t;
	struct eip712_hashes h;
	struct buf b;
	uint8_t th[32];
	struct err e = { 0 };

	(void)state;
	assert_int_equal(eip712_json_hash(&h, doc, strlen(doc), &e), 0);
	/* ethers 6.17.0: hashDomain / hashStruct / hash */
	assert_hex32(h.domain_separator, "0xdf63395f1239ca6daff923e0bf53e9aa1bc51cc5def59459cc41a546c7b1ec61");
	assert_hex32(h.message_hash, "0xbd2e69e13545eaabc844ce13f826dab2c0690438370afe512a49aef5ca973b05");
	assert_hex32(h.digest, "0x147562ec6678858094ba6b3c4f8a6a0867a3a99cc6c4c669db93446bdf5f318f");

	root = json_loads(doc, 0, NULL);
	assert_non_null(root);
	assert_int_equal(eip712_types_from_json(&t, json_object_get(root, "types"), &e), 0);
	buf_init(&b, 4096);
	assert_int_equal(eip712_encode_type(&b, t, "Mail", &e), 0);
	assert_string_equal(buf_cstr(&b),
		"Mail(Person from,Person[] to,string contents,Person[][] teams,int16[2][] matrix,"
		"bool[3] flags,bytes4 tag,bytes blob,uint256 nonce,int64 delta,bytes[] attachments)"
		"Person(string name,address[] wallets)");
	buf_release(&b);
	assert_int_equal(eip712_type_hash(th, t, "Person", &e), 0);
	assert_hex32(th, "0xfabfe1ed996349fc6027709802be19d047da1aa5d6894ff5f6486d92db2e6860");
	assert_int_equal(eip712_type_hash(th, t, "Mail", &e), 0);
	assert_hex32(th, "0xa7edff8805138c1486695d911e18468b4611cda0e763f343724e20a4324edbb6");
	eip712_types_free(t);
	json_decref(root);
	free(doc);
}

/* encodeType sorts referenced types by name, found through arrays and depth. */
static void test_encode_type_sorting(void **state)
{
	struct eip712_types *t;
	struct buf b;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(eip712_types_parse(&t, "Z(A a,Y y)Y(B b)A(uint8 x)B(A[] as)", &e), 0);
	buf_init(&b, 4096);
	assert_int_equal(eip712_encode_type(&b, t, "Z", &e), 0);
	/* ethers 6.17.0 TypedDataEncoder.from(..).encodeType("Z") */
	assert_string_equal(buf_cstr(&b), "Z(A a,Y y)A(uint8 x)B(A[] as)Y(B b)");
	buf_reset(&b);
	assert_int_equal(eip712_encode_type(&b, t, "B", &e), 0);
	assert_string_equal(buf_cstr(&b), "B(A[] as)A(uint8 x)");
	buf_release(&b);
	eip712_types_free(t);

	/* A recursive type is listed once. */
	assert_int_equal(eip712_types_parse(&t, "Node(uint256 v,Node[] kids)", &e), 0);
	buf_init(&b, 4096);
	assert_int_equal(eip712_encode_type(&b, t, "Node", &e), 0);
	assert_string_equal(buf_cstr(&b), "Node(uint256 v,Node[] kids)");
	buf_release(&b);
	eip712_types_free(t);
}

/* An escrow-style offer through the C API (values from ethers 6.17.0). */
static void test_offer_c_api(void **state)
{
	static const char decl[] =
		"Offer(address provider,address token,uint256 ratePerSecond,uint64 maxDuration,"
		"bool interruptible,Spec spec,uint64 expiry,uint256 nonce,int8 adjust,string[] regions)"
		"Spec(string gpu,uint32 vramGib,bytes32 specHash)";
	struct eth_address provider, token = { { 0 } }, escrow;
	uint8_t spec_hash[32], h[32], dg[32];
	u256 rate;
	struct eip712_types *t;
	struct err e = { 0 };

	(void)state;
	memset(spec_hash, 0xab, 32);
	assert_int_equal(address_parse(&provider, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", &e), 0);
	assert_int_equal(address_parse(&escrow, "0x5FbDB2315678afecb367f032d93F642f64180aa3", &e), 0);
	assert_int_equal(u256_parse(&rate, "1000000000000000", &e), 0);
	struct eip712_val spec[] = { eip712_str("H100"), eip712_u64(80), eip712_bytes(spec_hash, 32) };
	struct eip712_val regions[] = { eip712_str("eu-west"), eip712_str("us-east") };
	struct eip712_val offer[] = {
		eip712_address(&provider), eip712_address(&token), eip712_u256(&rate),
		eip712_u64(86400), eip712_bool(true), eip712_struct(spec, 3),
		eip712_u64(1700000000), eip712_u64(7), eip712_i64(-128), eip712_array(regions, 2),
	};
	struct eip712_domain dom = { .name = "Flopmarket", .version = "1", .has_chain_id = true,
				     .chain_id = 31337, .verifying_contract = &escrow };

	assert_int_equal(eip712_types_parse(&t, decl, &e), 0);
	assert_int_equal(eip712_hash_struct_vals(h, t, "Offer", offer, 10, &e), 0);
	assert_hex32(h, "0xe58117fabd8af4915c25e3ab5f9701581fa8cda2cf9127086c26fec121da748b");
	eip712_types_free(t);
	assert_int_equal(eip712_domain_separator(h, &dom, &e), 0);
	assert_hex32(h, "0xe7e2074486536b1a35d8395fac5b7814b6b50e6573e353306aa73dd42f8f240f");
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, offer, 10, &e), 0);
	assert_hex32(dg, "0x300cc4600bb81c791bcc0a0f40cc50f07b9a47ea67a44490113ee31181292cb6");

	/* Value errors name the member path. */
	struct eip712_val bad[10];
	memcpy(bad, offer, sizeof bad);
	bad[8] = eip712_i64(-129); /* int8 underflow */
	err_clear(&e);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, bad, 10, &e), ERR_RANGE);
	assert_string_equal(e.msg, "Offer.adjust: value does not fit in int8");
	memcpy(bad, offer, sizeof bad);
	bad[8] = eip712_i64(127);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, bad, 10, &e), 0);
	bad[8] = eip712_u64(128);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, bad, 10, &e), ERR_RANGE);
	memcpy(bad, offer, sizeof bad);
	struct eip712_val bspec[] = { eip712_str("H100"), eip712_u64(1ull << 32),
				      eip712_bytes(spec_hash, 32) };
	bad[5] = eip712_struct(bspec, 3);
	err_clear(&e);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, bad, 10, &e), ERR_RANGE);
	assert_string_equal(e.msg, "Offer.spec.vramGib: value does not fit in uint32");
	bspec[1] = eip712_u64(80);
	bspec[2] = eip712_bytes(spec_hash, 31);
	err_clear(&e);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, bad, 10, &e), ERR_INVALID);
	assert_string_equal(e.msg, "Offer.spec.specHash: bytes32 needs exactly 32 bytes, got 31");
	memcpy(bad, offer, sizeof bad);
	bad[0] = eip712_str("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
	err_clear(&e);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, bad, 10, &e), ERR_INVALID);
	assert_string_equal(e.msg, "Offer.provider: expected an address (EIP712_ADDRESS)");
	memcpy(bad, offer, sizeof bad);
	struct eip712_val r3[] = { eip712_str("a"), eip712_u64(1) };
	bad[9] = eip712_array(r3, 2);
	err_clear(&e);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, bad, 10, &e), ERR_INVALID);
	assert_string_equal(e.msg, "Offer.regions[1]: expected a string (EIP712_STRING)");
	err_clear(&e);
	assert_int_equal(eip712_digest_vals(dg, &dom, decl, offer, 9, &e), ERR_INVALID);
	assert_string_equal(e.msg, "Offer: Offer has 10 members, got 9 values");
}

static void test_domain_subsets(void **state)
{
	struct eth_address vc;
	uint8_t salt[32], h[32];
	struct err e = { 0 };

	(void)state;
	memset(salt, 1, 32);
	assert_int_equal(address_parse(&vc, "0x5FbDB2315678afecb367f032d93F642f64180aa3", &e), 0);
	/* ethers 6.17.0 TypedDataEncoder.hashDomain({name: "X", chainId: 1}) */
	struct eip712_domain d1 = { .name = "X", .has_chain_id = true, .chain_id = 1 };
	assert_int_equal(eip712_domain_separator(h, &d1, &e), 0);
	assert_hex32(h, "0x0d98beb382308955b6e8410f596228527c4b44a9a7b8dd20ee862af465c2d6cd");
	/* hashDomain({verifyingContract: 0x5FbD..0aa3, salt: 0x0101..01}) */
	struct eip712_domain d2 = { .verifying_contract = &vc, .salt32 = salt };
	assert_int_equal(eip712_domain_separator(h, &d2, &e), 0);
	assert_hex32(h, "0x302b3b553f0003789a6f7bbd25954c6372931d105d651c2ba86ded01680cf083");

	/* The same two through JSON with EIP712Domain derived from the keys. */
	static const char *docs[][2] = {
		{ "{'types':{'T':[]},'primaryType':'T','domain':{'name':'X','chainId':1},'message':{}}",
		  "0x0d98beb382308955b6e8410f596228527c4b44a9a7b8dd20ee862af465c2d6cd" },
		{ "{'types':{'T':[]},'primaryType':'T','domain':{'salt':"
		  "'0x0101010101010101010101010101010101010101010101010101010101010101',"
		  "'verifyingContract':'0x5fbdb2315678afecb367f032d93f642f64180aa3'},'message':{}}",
		  "0x302b3b553f0003789a6f7bbd25954c6372931d105d651c2ba86ded01680cf083" },
	};
	for (size_t i = 0; i < 2; i++) {
		char *doc = dq(docs[i][0]);
		struct eip712_hashes hs;
		assert_int_equal(eip712_json_hash(&hs, doc, strlen(doc), &e), 0);
		assert_hex32(hs.domain_separator, docs[i][1]);
		free(doc);
	}
}

/* Bad JSON inputs: each gives its code and a message naming the field. */
static void test_json_bad_inputs(void **state)
{
#define T_PM "'Person':[{'name':'name','type':'string'},{'name':'wallet','type':'address'}]"
#define DOC(types, primary, msg)                                                       \
	"{'types':{" types "},'primaryType':'" primary "','domain':{'name':'D','chainId':1}," \
	"'message':" msg "}"
	static const struct {
		const char *doc;
		int code;
		const char *msg; /* expected message prefix */
	} cases[] = {
		{ DOC(T_PM, "Person", "{'name':'a','wallet':'0x123'}"), ERR_INVALID,
		  "message.wallet: bad address" },
		{ DOC(T_PM ",'Mail':[{'name':'to','type':'Person'}]", "Mail",
		      "{'to':{'name':'a','wallet':'0x12'}}"),
		  ERR_INVALID, "message.to.wallet: bad address" },
		{ DOC(T_PM, "Person", "{'name':'a','wallet':'0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827'}"),
		  ERR_CHECKSUM, "message.wallet: bad address" },
		{ DOC(T_PM, "Person", "{'name':'a','wallet':5}"), ERR_INVALID,
		  "message.wallet: expected an address string" },
		{ DOC(T_PM, "Person", "{'wallet':'0x0000000000000000000000000000000000000000'}"),
		  ERR_INVALID, "message.name: missing" },
		{ DOC(T_PM, "Person",
		      "{'name':'a','wallet':'0x0000000000000000000000000000000000000000','x':1}"),
		  ERR_INVALID, "message.x: not a member of Person" },
		{ DOC("'Mail':[{'name':'from','type':'Persn'}]", "Mail", "{}"), ERR_INVALID,
		  "types.Mail.from: unknown type 'Persn'" },
		{ DOC(T_PM, "Mail", "{}"), ERR_INVALID, "primaryType: 'Mail' is not in types" },
		{ DOC("'A':[{'name':'v','type':'uint8'}]", "A", "{'v':256}"), ERR_RANGE,
		  "message.v: value does not fit in uint8" },
		{ DOC("'A':[{'name':'v','type':'uint8'}]", "A", "{'v':-1}"), ERR_RANGE,
		  "message.v: negative value for uint8" },
		{ DOC("'A':[{'name':'v','type':'uint8'}]", "A", "{'v':'-1'}"), ERR_INVALID,
		  "message.v: bad uint8" },
		{ DOC("'A':[{'name':'v','type':'uint8'}]", "A", "{'v':1.5}"), ERR_INVALID,
		  "message.v: expected an integer" },
		{ DOC("'A':[{'name':'v','type':'uint256'}]", "A",
		      "{'v':'115792089237316195423570985008687907853269984665640564039457584007913129639936'}"),
		  ERR_RANGE, "message.v: bad uint256" },
		{ DOC("'A':[{'name':'v','type':'int8'}]", "A", "{'v':-129}"), ERR_RANGE,
		  "message.v: value does not fit in int8" },
		{ DOC("'A':[{'name':'v','type':'int8'}]", "A", "{'v':128}"), ERR_RANGE,
		  "message.v: value does not fit in int8" },
		{ DOC("'A':[{'name':'v','type':'int256'}]", "A",
		      "{'v':'0x8000000000000000000000000000000000000000000000000000000000000000'}"),
		  ERR_RANGE, "message.v: value does not fit in int256" },
		{ DOC("'A':[{'name':'v','type':'bytes4'}]", "A", "{'v':'0xdeadbe'}"), ERR_INVALID,
		  "message.v: bytes4 needs exactly 4 bytes, got 3" },
		{ DOC("'A':[{'name':'v','type':'bytes'}]", "A", "{'v':'deadbeef'}"), ERR_INVALID,
		  "message.v: expected a 0x-hex string for bytes" },
		{ DOC("'A':[{'name':'v','type':'bytes'}]", "A", "{'v':'0xabc'}"), ERR_INVALID,
		  "message.v: bad bytes" },
		{ DOC("'A':[{'name':'v','type':'bool'}]", "A", "{'v':'true'}"), ERR_INVALID,
		  "message.v: expected true or false" },
		{ DOC("'A':[{'name':'v','type':'string'}]", "A", "{'v':null}"), ERR_INVALID,
		  "message.v: expected a string" },
		{ DOC("'A':[{'name':'v','type':'uint8[2]'}]", "A", "{'v':[1,2,3]}"), ERR_INVALID,
		  "message.v: expected 2 elements, got 3" },
		{ DOC("'A':[{'name':'v','type':'uint8[]'}]", "A", "{'v':{}}"), ERR_INVALID,
		  "message.v: expected an array" },
		{ DOC("'A':[{'name':'v','type':'uint8[][]'}]", "A", "{'v':[[1],[2,'x']]}"), ERR_INVALID,
		  "message.v[1][1]: bad uint8" },
		{ DOC(T_PM ",'G':[{'name':'m','type':'Person[]'}]", "G",
		      "{'m':[{'name':'a','wallet':'0x0000000000000000000000000000000000000000'},"
		      "{'name':'b','wallet':'0xzz00000000000000000000000000000000000000'}]}"),
		  ERR_INVALID, "message.m[1].wallet: bad address" },
		{ DOC("'A':[{'name':'v','type':'uint7'}]", "A", "{}"), ERR_INVALID,
		  "types.A.v: unknown type 'uint7'" },
		{ DOC("'A':[{'name':'v','type':'bytes33'}]", "A", "{}"), ERR_INVALID,
		  "types.A.v: unknown type 'bytes33'" },
		{ DOC("'A':[{'name':'v','type':'uint'}]", "A", "{}"), ERR_INVALID,
		  "types.A.v: unknown type 'uint'" },
		{ DOC("'A':[{'name':'v','type':'uint8[0]'}]", "A", "{}"), ERR_INVALID,
		  "types.A.v: bad array length" },
		{ DOC("'A':[{'name':'v','type':'uint8['}]", "A", "{}"), ERR_INVALID,
		  "types.A.v: bad array suffix" },
		{ DOC("'A':[{'name':'v','type':'uint8[1][1][1][1][1]'}]", "A", "{}"), ERR_TOO_BIG,
		  "types.A.v: more than 4 array dimensions" },
		{ DOC("'A':[{'name':'v','type':'uint8 x'}]", "A", "{}"), ERR_INVALID,
		  "types.A[0]: bad character in type" },
		{ DOC("'A':[{'name':'v','type':'uint8'},{'name':'v','type':'bool'}]", "A", "{}"),
		  ERR_INVALID, "types.A[1]: member 'v' declared twice" },
		{ DOC("'A':[{'name':'v'}]", "A", "{}"), ERR_INVALID, "types.A[0]: expected {" },
		{ DOC("'A':{}", "A", "{}"), ERR_INVALID, "types.A: expected an array" },
		{ DOC("'uint256':[]", "uint256", "{}"), ERR_INVALID,
		  "types.uint256: 'uint256' is a built-in type name" },
		{ DOC("'EIP712Domain':[{'name':'chainId','type':'uint64'}],'A':[]", "A", "{}"),
		  ERR_INVALID, "types.EIP712Domain[0]: EIP712Domain.chainId must be uint256" },
		{ DOC("'EIP712Domain':[{'name':'foo','type':'string'}],'A':[]", "A", "{}"), ERR_INVALID,
		  "types.EIP712Domain[0]: 'foo' is not an EIP712Domain member" },
		{ DOC("'EIP712Domain':[{'name':'name','type':'string'}],'A':[]", "A", "{}"),
		  ERR_INVALID, "domain.chainId: not a member of EIP712Domain" },
		{ "{'types':{'A':[]},'primaryType':'A','domain':{'foo':1},'message':{}}", ERR_INVALID,
		  "domain.foo: not a member of EIP712Domain" },
		{ "{'types':{'A':[]},'primaryType':'A','domain':{'chainId':'x'},'message':{}}",
		  ERR_INVALID, "domain.chainId: bad uint256" },
		{ "{'types':{'A':[]},'primaryType':'A','domain':{},'message':{},'extra':1}", ERR_INVALID,
		  "extra: unexpected key" },
		{ "{'types':{'A':[]},'primaryType':'A','domain':{}}", ERR_INVALID,
		  "message: missing or not an object" },
		{ "{'types':{'A':[]},'domain':{},'message':{}}", ERR_INVALID,
		  "primaryType: missing" },
		{ "{'types':{'A':[]},'primaryType':'A','domain':{},'message':{'a':1,'a':2}}",
		  ERR_INVALID, "typed data: bad JSON" },
		{ "{'types':", ERR_INVALID, "typed data: bad JSON" },
		{ "[]", ERR_INVALID, "typed data: expected a JSON object" },
		{ DOC("'A':[]", "EIP712Domain", "{}"), ERR_UNSUPPORTED,
		  "primaryType: EIP712Domain as primary type is not supported" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *doc = dq(cases[i].doc);
		struct eip712_hashes h;
		struct err e = { 0 };

		memset(&h, 0x5a, sizeof h);
		int rc = eip712_json_hash(&h, doc, strlen(doc), &e);
		if (rc != cases[i].code || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: rc %d msg \"%s\", want %d \"%s\"", i, rc, e.msg,
				 cases[i].code, cases[i].msg);
		for (size_t j = 0; j < sizeof h; j++)
			assert_int_equal(((uint8_t *)&h)[j], 0x5a); /* untouched */
		free(doc);
	}
#undef DOC
#undef T_PM
}

/* Boundaries of int/uint encodings and accepted number forms. */
static void test_json_number_forms(void **state)
{
	static const struct {
		const char *type;
		const char *value; /* JSON text */
		const char *word;  /* expected encodeData word */
	} cases[] = {
		{ "uint8", "255", "0x00000000000000000000000000000000000000000000000000000000000000ff" },
		{ "uint8", "'0xff'", "0x00000000000000000000000000000000000000000000000000000000000000ff" },
		{ "uint8", "'255'", "0x00000000000000000000000000000000000000000000000000000000000000ff" },
		{ "int8", "-128", "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80" },
		{ "int8", "'-1'", "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" },
		{ "int8", "127", "0x000000000000000000000000000000000000000000000000000000000000007f" },
		{ "int256", "'-0x8000000000000000000000000000000000000000000000000000000000000000'",
		  "0x8000000000000000000000000000000000000000000000000000000000000000" },
		{ "int64", "-9223372036854775808",
		  "0xffffffffffffffffffffffffffffffffffffffffffffffff8000000000000000" },
		{ "int72", "'-0x800000000000000000'",
		  "0xffffffffffffffffffffffffffffffffffffffffffffff800000000000000000" },
		{ "uint256", "'0x0'", "0x0000000000000000000000000000000000000000000000000000000000000000" },
		{ "int16", "'-0'", "0x0000000000000000000000000000000000000000000000000000000000000000" },
		{ "bool", "true", "0x0000000000000000000000000000000000000000000000000000000000000001" },
		{ "bytes1", "'0x7f'", "0x7f00000000000000000000000000000000000000000000000000000000000000" },
		{ "address", "'0x00000000000000000000000000000000000000ff'",
		  "0x00000000000000000000000000000000000000000000000000000000000000ff" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char src[512], *doc;
		struct eip712_types *t;
		json_t *types, *msg;
		uint8_t got[32], want[32], th[32];
		struct keccak256_ctx k;
		struct err e = { 0 };

		/* hashStruct(A{v}) = keccak(typeHash || word): compare with the expected word. */
		snprintf(src, sizeof src, "{'A':[{'name':'v','type':'%s'}]}", cases[i].type);
		doc = dq(src);
		types = json_loads(doc, 0, NULL);
		free(doc);
		snprintf(src, sizeof src, "{'v':%s}", cases[i].value);
		doc = dq(src);
		msg = json_loads(doc, JSON_DECODE_ANY, NULL);
		free(doc);
		assert_non_null(types);
		assert_non_null(msg);
		assert_int_equal(eip712_types_from_json(&t, types, &e), 0);
		if (eip712_hash_struct_json(got, t, "A", msg, NULL, &e))
			fail_msg("case %zu: %s", i, e.msg);
		assert_int_equal(eip712_type_hash(th, t, "A", &e), 0);
		assert_int_equal(hex_decode_exact(want, 32, cases[i].word, NULL), 0);
		keccak256_init(&k);
		keccak256_update(&k, th, 32);
		keccak256_update(&k, want, 32);
		keccak256_final(want, &k);
		if (memcmp(got, want, 32))
			fail_msg("case %zu (%s %s): wrong encoding", i, cases[i].type, cases[i].value);
		eip712_types_free(t);
		json_decref(types);
		json_decref(msg);
	}
}

static void test_decl_bad_inputs(void **state)
{
	static const struct {
		const char *decl;
		int code;
		const char *msg;
	} cases[] = {
		{ "", ERR_INVALID, "types: empty declaration" },
		{ "Offer(uint256)", ERR_INVALID, "types offset 6: expected 'type name'" },
		{ "Offer(uint256 a,)", ERR_INVALID, "types offset 6: trailing ','" },
		{ "Offer(uint256 a", ERR_INVALID, "types offset 0: expected Name(type name,...)" },
		{ "1Offer(uint256 a)", ERR_INVALID, "types offset 0: bad type name '1Offer'" },
		{ "Offer(uint256 a)Offer(uint256 b)", ERR_INVALID,
		  "types offset 16: type 'Offer' defined twice" },
		{ "Offer(uint256 a,uint8 a)", ERR_INVALID, "types offset 16: member 'a' declared twice" },
		{ "Offer(uint256  a)", ERR_INVALID, "types offset 6: bad member name ' a'" },
		{ "Offer(uint256 a) ", ERR_INVALID, "types offset 16: expected Name" },
		{ "Offer(Spec s)", ERR_INVALID, "Offer.s: unknown type 'Spec'" },
		{ "Offer(uint256 a)x", ERR_INVALID, "types offset 16: expected Name" },
		{ "address(uint256 a)", ERR_INVALID, "types offset 0: 'address' is a built-in type name" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct eip712_types *t = (struct eip712_types *)&t;
		struct err e = { 0 };
		int rc = eip712_types_parse(&t, cases[i].decl, &e);

		if (rc != cases[i].code || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: rc %d msg \"%s\", want %d \"%s\"", i, rc, e.msg,
				 cases[i].code, cases[i].msg);
		assert_ptr_equal(t, (struct eip712_types *)&t); /* untouched */
	}
	/* Caps: too many types, too many members, too long a declaration. */
	struct buf b;
	struct eip712_types *t;
	struct err e = { 0 };
	buf_init(&b, 1 << 20);
	for (int i = 0; i <= EIP712_MAX_TYPES; i++)
		assert_int_equal(buf_printf(&b, "T%d(uint8 x)", i), 0);
	assert_int_equal(eip712_types_parse(&t, buf_cstr(&b), &e), ERR_TOO_BIG);
	buf_reset(&b);
	assert_int_equal(buf_append_str(&b, "T(uint8 f0"), 0);
	for (int i = 1; i <= EIP712_MAX_FIELDS; i++)
		assert_int_equal(buf_printf(&b, ",uint8 f%d", i), 0);
	assert_int_equal(buf_append_str(&b, ")"), 0);
	assert_int_equal(eip712_types_parse(&t, buf_cstr(&b), &e), ERR_TOO_BIG);
	buf_reset(&b);
	while (b.len <= EIP712_MAX_DECL)
		assert_int_equal(buf_append_str(&b, "T(uint8 x)"), 0);
	assert_int_equal(eip712_types_parse(&t, buf_cstr(&b), &e), ERR_TOO_BIG);
	buf_release(&b);
}

/* Depth, array length and total-work caps hold against hostile input. */
static void test_caps(void **state)
{
	struct buf b;
	struct eip712_hashes h;
	struct err e = { 0 };
	char *head = dq("{'types':{'Node':[{'name':'kids','type':'Node[]'}]},'primaryType':'Node',"
			"'domain':{'chainId':1},'message':");

	(void)state;
	/* Nesting: a chain of Node{kids:[Node{...}]} deeper than the cap. */
	for (int depth = 4; depth <= 40; depth += 36) {
		buf_init(&b, 1 << 20);
		assert_int_equal(buf_append_str(&b, head), 0);
		for (int i = 0; i < depth; i++)
			assert_int_equal(buf_append_str(&b, "{\"kids\":["), 0);
		assert_int_equal(buf_append_str(&b, "{\"kids\":[]}"), 0);
		for (int i = 0; i < depth; i++)
			assert_int_equal(buf_append_str(&b, "]}"), 0);
		assert_int_equal(buf_append_str(&b, "}"), 0);
		err_clear(&e);
		int rc = eip712_json_hash(&h, (const char *)b.data, b.len, &e);
		if (depth == 4) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, ERR_DEPTH);
			assert_true(strstr(e.msg, "message.kids[0].kids[0]") == e.msg);
		}
		buf_release(&b);
	}
	free(head);

	/* Array length: EIP712_MAX_ARRAY elements pass, one more fails. */
	for (int n = EIP712_MAX_ARRAY; n <= EIP712_MAX_ARRAY + 1; n++) {
		char *pre = dq("{'types':{'A':[{'name':'v','type':'uint8[]'}]},'primaryType':'A',"
			       "'domain':{},'message':{'v':[");
		buf_init(&b, 1 << 20);
		assert_int_equal(buf_append_str(&b, pre), 0);
		for (int i = 0; i < n; i++)
			assert_int_equal(buf_append_str(&b, i ? ",1" : "1"), 0);
		assert_int_equal(buf_append_str(&b, "]}}"), 0);
		err_clear(&e);
		int rc = eip712_json_hash(&h, (const char *)b.data, b.len, &e);
		assert_int_equal(rc, n == EIP712_MAX_ARRAY ? 0 : ERR_TOO_BIG);
		if (rc)
			assert_string_equal(e.msg, "message.v: more than 1024 elements");
		buf_release(&b);
		free(pre);
	}

	/* Whole-document cap. */
	err_clear(&e);
	assert_int_equal(eip712_json_hash(&h, "{}", EIP712_MAX_JSON + 1, &e), ERR_TOO_BIG);
	assert_true(e.msg[0] != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_example),
		cmocka_unit_test(test_mail_c_api),
		cmocka_unit_test(test_arrays_nested),
		cmocka_unit_test(test_encode_type_sorting),
		cmocka_unit_test(test_offer_c_api),
		cmocka_unit_test(test_domain_subsets),
		cmocka_unit_test(test_json_bad_inputs),
		cmocka_unit_test(test_json_number_forms),
		cmocka_unit_test(test_decl_bad_inputs),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
