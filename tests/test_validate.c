/* Unit tests for validate.h: percent-decoding, locators, identifiers, upstream path encoding,
 * document types and media types, dates and RFC 3339 times, countries, documents, consent,
 * users and wallets. Outputs are asserted as exact serialized JSON. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kycgate/json.h"
#include "kycgate/validate.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Parses s strictly; the test fails if it is not valid JSON. */
static struct json_object *J(const char *s)
{
	struct json_object *o = NULL;
	const char *detail = NULL;

	ck_assert_msg(kg_json_parse(s, strlen(s), KG_MAX_JSON_DEPTH, &o, &detail, NULL) == KG_OK,
	              "test JSON refused: %s", detail);
	return o;
}

/* Asserts obj serializes to exactly want. */
static void assert_json(struct json_object *obj, const char *want)
{
	size_t n = 0;
	char *bytes = kg_json_to_bytes(obj, &n);

	ck_assert_ptr_nonnull(bytes);
	ck_assert_msg(strcmp(bytes, want) == 0, "got  %s\nwant %s", bytes, want);
	kg_json_free_bytes(bytes, n);
}

/* true when errors holds {pointer, detail} with detail containing want_detail. */
static bool has_error(struct json_object *errors, const char *pointer, const char *want_detail)
{
	size_t n = json_object_array_length(errors);

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(errors, i);
		const char *p = json_object_get_string(json_object_object_get(e, "pointer"));
		const char *d = json_object_get_string(json_object_object_get(e, "detail"));

		ck_assert_int_eq(json_object_object_length(e), 2);
		if (strcmp(p, pointer) == 0 && strstr(d, want_detail) != NULL)
			return true;
	}
	return false;
}

static void assert_error(struct json_object *errors, const char *pointer, const char *detail)
{
	ck_assert_ptr_nonnull(errors);
	ck_assert_msg(has_error(errors, pointer, detail), "no error {%s, %s} in %s", pointer,
	              detail, json_object_to_json_string(errors));
}

/* ---- percent-decoding ------------------------------------------------------------------- */

static const struct {
	const char *raw;
	enum kg_err err;
	const char *out;
} pct_cases[] = {
    {"abc", KG_OK, "abc"},
    {"", KG_OK, ""},
    {"%2e%2e", KG_OK, ".."},
    {"%2E", KG_OK, "."},
    {"%2F", KG_OK, "/"},
    {"a%2fb", KG_OK, "a/b"},
    {"%41%42%43", KG_OK, "ABC"},
    {"+", KG_OK, "+"},
    {"a+b", KG_OK, "a+b"},
    {"%2B", KG_OK, "+"},
    {"%20", KG_OK, " "},
    {"%25", KG_OK, "%"},
    {"%2541", KG_OK, "%41"},
    {"%252e%252e", KG_OK, "%2e%2e"},
    {"email:a%40b.co", KG_OK, "email:a@b.co"},
    {"%C3%A9", KG_OK, "\xc3\xa9"},
    {"%c3%a9", KG_OK, "\xc3\xa9"},
    {"\xc3\xa9", KG_OK, "\xc3\xa9"},
    {"%F0%9F%98%80", KG_OK, "\xf0\x9f\x98\x80"},
    {"%EF%BF%BF", KG_OK, "\xef\xbf\xbf"},
    {"%7E", KG_OK, "~"},
    {"%00", KG_ERR_INVALID, NULL},
    {"a%00b", KG_ERR_INVALID, NULL},
    {"%0d%0a", KG_ERR_INVALID, NULL},
    {"%0A", KG_ERR_INVALID, NULL},
    {"%09", KG_ERR_INVALID, NULL},
    {"%1F", KG_ERR_INVALID, NULL},
    {"%7F", KG_ERR_INVALID, NULL},
    {"%7f", KG_ERR_INVALID, NULL},
    {"a\x01", KG_ERR_INVALID, NULL},
    {"a\tb", KG_ERR_INVALID, NULL},
    {"\x7f", KG_ERR_INVALID, NULL},
    {"%C0%AF", KG_ERR_INVALID, NULL},
    {"%C0%AE%C0%AE", KG_ERR_INVALID, NULL},
    {"%E0%80%AF", KG_ERR_INVALID, NULL},
    {"%FF", KG_ERR_INVALID, NULL},
    {"%80", KG_ERR_INVALID, NULL},
    {"%E2%82", KG_ERR_INVALID, NULL},
    {"%ED%A0%80", KG_ERR_INVALID, NULL},
    {"%F4%90%80%80", KG_ERR_INVALID, NULL},
    {"\xff", KG_ERR_INVALID, NULL},
    {"%", KG_ERR_INVALID, NULL},
    {"%4", KG_ERR_INVALID, NULL},
    {"abc%", KG_ERR_INVALID, NULL},
    {"abc%4", KG_ERR_INVALID, NULL},
    {"%G1", KG_ERR_INVALID, NULL},
    {"%1G", KG_ERR_INVALID, NULL},
    {"%%41", KG_ERR_INVALID, NULL},
    {"% 41", KG_ERR_INVALID, NULL},
    {"%+1", KG_ERR_INVALID, NULL},
};

/* The grammar of configured names (clients, webhook endpoints), shared by the config and the
 * webhook routes' path. */
START_TEST(name_valid_table)
{
	char long_name[KG_NAME_MAX_BYTES + 2];

	ck_assert(kg_name_valid("compliance", 10));
	ck_assert(kg_name_valid("a.b_c-D9", 8));
	ck_assert(!kg_name_valid("", 0));
	ck_assert(!kg_name_valid("no pe", 5));
	ck_assert(!kg_name_valid("a/b", 3));
	ck_assert(!kg_name_valid("a\0b", 3));
	memset(long_name, 'x', sizeof(long_name));
	ck_assert(kg_name_valid(long_name, KG_NAME_MAX_BYTES));
	ck_assert(!kg_name_valid(long_name, KG_NAME_MAX_BYTES + 1));
}
END_TEST

START_TEST(pct_decode_table)
{
	char out[64];
	size_t n = 99;
	const char *raw = pct_cases[_i].raw;
	enum kg_err err = kg_pct_decode(raw, strlen(raw), out, sizeof(out), &n);

	ck_assert_msg(err == pct_cases[_i].err, "<%s>: got %s", raw, kg_err_str(err));
	if (err == KG_OK) {
		ck_assert_str_eq(out, pct_cases[_i].out);
		ck_assert_uint_eq(n, strlen(pct_cases[_i].out));
	} else {
		ck_assert_str_eq(out, "");
		ck_assert_uint_eq(n, 0);
	}
}
END_TEST

START_TEST(pct_decode_capacity)
{
	char out[4];
	size_t n = 0;

	ck_assert_int_eq(kg_pct_decode("abc", 3, out, 4, &n), KG_OK);
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(kg_pct_decode("abcd", 4, out, 4, &n), KG_ERR_TOO_LARGE);
	ck_assert_int_eq(kg_pct_decode("%41%42%43", 9, out, 4, &n), KG_OK);
	ck_assert_str_eq(out, "ABC");
	ck_assert_int_eq(kg_pct_decode("%41%42%43%44", 12, out, 4, &n), KG_ERR_TOO_LARGE);
	ck_assert_int_eq(kg_pct_decode("a", 1, out, 0, &n), KG_ERR_TOO_LARGE);
	/* Length-aware: the bytes after raw_len are not read. */
	ck_assert_int_eq(kg_pct_decode("ab%00", 2, out, 4, NULL), KG_OK);
	ck_assert_str_eq(out, "ab");
}
END_TEST

/* ---- locators --------------------------------------------------------------------------- */

static const char *const good_locators[] = {
    "email:a@b.co",
    "email:john.doe@example.com",
    "email:a+b@x.io",
    "email:o'brien_x%y!z@sub.example-domain.org",
    "email:A.B-C@D.EF",
    "userId:johnd-123",
    "userId:a/b:c",
    "userId:a b",
    "userId:\xc3\xa9t\xc3\xa9",
    "userId:\xf0\x9f\x98\x80",
    "userId:...",
    "userId:.a",
    "userId:%2e",
    "phoneNumber:+12125551234",
    "phoneNumber:+49",
    "phoneNumber:+123456789012345",
    "twitter:jdoe",
    "twitter:A_1",
    "twitter:abcdefghijklmno",
    "x:jdoe",
    "x:_",
};

START_TEST(locator_valid_table)
{
	const char *detail = "unset";
	const char *loc = good_locators[_i];

	ck_assert_msg(kg_locator_valid(loc, strlen(loc), &detail), "<%s> refused: %s", loc, detail);
	ck_assert_ptr_null(detail);
}
END_TEST

static char long_user_id[7 + 250 + 1];
static char max_user_id[KG_MAX_LOCATOR_BYTES + 1];
static char long_email_local[6 + 65 + 7 + 1];
static char long_email[6 + 255 + 1];

static void build_long_locators(void)
{
	memcpy(long_user_id, "userId:", 7);
	memset(long_user_id + 7, 'u', 250);
	memcpy(max_user_id, "userId:", 7);
	memset(max_user_id + 7, 'u', KG_MAX_LOCATOR_BYTES - 7);
	memcpy(long_email_local, "email:", 6);
	memset(long_email_local + 6, 'l', 65);
	memcpy(long_email_local + 71, "@b.co", 6);
	/* 64 + '@' + 190-byte domain = 255 bytes of address */
	memcpy(long_email, "email:", 6);
	memset(long_email + 6, 'l', 64);
	long_email[70] = '@';
	for (int i = 0; i < 190; i++)
		long_email[71 + i] = (i % 60 == 59) ? '.' : 'd';
	memcpy(long_email + 71 + 187, ".co", 3);
}

static const struct {
	const char *loc;
	const char *detail;
} bad_locators[] = {
    {"email:", "empty"},
    {"Email:a@b.co", "prefix"},
    {"EMAIL:a@b.co", "prefix"},
    {"email:a@b", "e-mail"},
    {"email:a b@c.de", "e-mail"},
    {"email:a@@b.co", "e-mail"},
    {"email:a@b@c.co", "e-mail"},
    {"email:ab.co", "e-mail"},
    {"email:@b.co", "e-mail"},
    {"email:a@", "e-mail"},
    {"email:a@b..co", "e-mail"},
    {"email:a@.b.co", "e-mail"},
    {"email:a@b.co.", "e-mail"},
    {"email:a@-b.co", "e-mail"},
    {"email:a@b-.co", "e-mail"},
    {"email:a@b.-co", "e-mail"},
    {"email:a@b_c.co", "e-mail"},
    {"email:a(b@c.de", "e-mail"},
    {"email:a\"b@c.de", "e-mail"},
    {"email:a:b@c.de", "e-mail"},
    {"email:a;b@c.de", "e-mail"},
    {"email:a<b@c.de", "e-mail"},
    {"email:a[b@c.de", "e-mail"},
    {"email:a\\b@c.de", "e-mail"},
    {"email:a,b@c.de", "e-mail"},
    {"email:\xc3\xa9@c.de", "e-mail"},
    {"email:a@c\xc3\xa9.de", "e-mail"},
    {"email:.", ". or .."},
    {"phoneNumber:12345", "E.164"},
    {"phoneNumber:+0123", "E.164"},
    {"phoneNumber:+1", "E.164"},
    {"phoneNumber:+1234567890123456", "E.164"},
    {"phoneNumber:+1234a", "E.164"},
    {"phoneNumber:+1 212", "E.164"},
    {"phoneNumber:", "empty"},
    {"twitter:this_is_way_too_long_handle", "twitter:"},
    {"twitter:abcdefghijklmnop", "twitter:"},
    {"twitter:a-b", "twitter:"},
    {"twitter:", "empty"},
    {"x:bad-char", "x:"},
    {"x:a.b", "x:"},
    {"x:", "empty"},
    {"x:.", ". or .."},
    {"userId:.", ". or .."},
    {"userId:..", ". or .."},
    {"userId:", "empty"},
    {"userId:a\x01", "printable"},
    {"userId:a\tb", "printable"},
    {"userId:a\x7f", "printable"},
    {"userId:\xc2\x80", "printable"},
    {"userId:\xc2\x9f", "printable"},
    {"userId:\xff", "printable"},
    {"userId:\xc0\xaf", "printable"},
    {"userId:\xed\xa0\x80", "printable"},
    {"userId:\xe2\x82", "printable"},
    {"userIdabc", "prefix"},
    {"abc", "prefix"},
    {"", "prefix"},
    {":abc", "prefix"},
    {"wallet:abc", "prefix"},
    {"me:abc", "prefix"},
    {"userid:abc", "prefix"},
    {" userId:abc", "prefix"},
    {long_user_id, "256 bytes"},
    {long_email_local, "e-mail"},
    {long_email, "256 bytes"},
};

START_TEST(locator_invalid_table)
{
	const char *detail = NULL;
	const char *loc = bad_locators[_i].loc;

	build_long_locators();
	ck_assert_msg(!kg_locator_valid(loc, strlen(loc), &detail), "<%s> accepted", loc);
	ck_assert_ptr_nonnull(detail);
	ck_assert_msg(strstr(detail, bad_locators[_i].detail) != NULL, "<%s>: detail %s", loc,
	              detail);
}
END_TEST

START_TEST(locator_lengths_and_nul)
{
	build_long_locators();
	ck_assert_uint_eq(strlen(max_user_id), 256);
	ck_assert(kg_locator_valid(max_user_id, 256, NULL));
	ck_assert(!kg_locator_valid(long_user_id, strlen(long_user_id), NULL));
	/* An embedded NUL is a control character. */
	ck_assert(!kg_locator_valid("userId:a\0b", 10, NULL));
	ck_assert(!kg_locator_valid("x:a\0", 4, NULL));
	ck_assert(kg_locator_valid("x:abc", 5, NULL));
	/* Length-aware: "x:ab" of "x:ab!" */
	ck_assert(kg_locator_valid("x:ab!", 4, NULL));
	ck_assert(!kg_locator_valid(NULL, 0, NULL));
}
END_TEST

static void assert_user_ok(const char *body);
static void assert_user_error(const char *body, const char *pointer, const char *detail);

/* An address of n bytes: 64-byte local part, '@', then labels of 49 bytes and ".co". */
static void make_address(char *out, size_t n)
{
	size_t w = 0;

	memset(out, 'l', 64);
	w = 64;
	out[w++] = '@';
	for (; w < n - 3; w++)
		out[w] = (w - 65) % 50 == 49 ? '.' : 'd';
	memcpy(out + w, ".co", 4);
}

START_TEST(email_length_boundary)
{
	char loc[6 + 256];
	char body[512];

	/* 256 bytes with the prefix: a 250-byte address; one more is over the locator bound */
	memcpy(loc, "email:", 6);
	make_address(loc + 6, 250);
	ck_assert_uint_eq(strlen(loc), 256);
	ck_assert(kg_locator_valid(loc, 256, NULL));
	make_address(loc + 6, 251);
	ck_assert(!kg_locator_valid(loc, 257, NULL));
	/* kycData.email: 254 bytes accepted, 255 refused */
	make_address(loc, 254);
	ck_assert_uint_eq(strlen(loc), 254);
	snprintf(body, sizeof(body), "{\"kycData\":{\"email\":\"%s\"}}", loc);
	assert_user_ok(body);
	make_address(loc, 255);
	snprintf(body, sizeof(body), "{\"kycData\":{\"email\":\"%s\"}}", loc);
	assert_user_error(body, "/kycData/email", "e-mail");
}
END_TEST

/* ---- identifiers ------------------------------------------------------------------------ */

START_TEST(document_id_and_address)
{
	char s[130];

	ck_assert(kg_document_id_valid("doc_abc123xyz", 13));
	ck_assert(kg_document_id_valid("a-b_C9", 6));
	ck_assert(!kg_document_id_valid("", 0));
	ck_assert(!kg_document_id_valid(".", 1));
	ck_assert(!kg_document_id_valid("..", 2));
	ck_assert(!kg_document_id_valid("a.b", 3));
	ck_assert(!kg_document_id_valid("a/b", 3));
	ck_assert(!kg_document_id_valid("a b", 3));
	ck_assert(!kg_document_id_valid("a\0b", 3));
	memset(s, 'a', sizeof(s));
	ck_assert(kg_document_id_valid(s, 128));
	ck_assert(!kg_document_id_valid(s, 129));

	ck_assert(kg_wallet_address_valid("0xAbC123", 8));
	ck_assert(kg_wallet_address_valid("7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV", 43));
	ck_assert(!kg_wallet_address_valid("", 0));
	ck_assert(!kg_wallet_address_valid("0x-1", 4));
	ck_assert(!kg_wallet_address_valid("a_b", 3));
	ck_assert(!kg_wallet_address_valid(".", 1));
	ck_assert(!kg_wallet_address_valid("..", 2));
	ck_assert(kg_wallet_address_valid(s, 128));
	ck_assert(!kg_wallet_address_valid(s, 129));
}
END_TEST

/* ---- upstream path encoding ------------------------------------------------------------- */

static const struct {
	const char *in;
	bool locator;
	const char *out;
} path_cases[] = {
    {"email:a+b@x.io", true, "email:a%2Bb@x.io"},
    {"userId:a/b:c", true, "userId:a%2Fb%3Ac"},
    {"userId:johnd-123", true, "userId:johnd-123"},
    {"userId:a b%?#&=;,", true, "userId:a%20b%25%3F%23%26%3D%3B%2C"},
    {"userId:\xc3\xa9", true, "userId:%C3%A9"},
    {"userId:..", true, "userId:.."},
    {"userId:~._-@", true, "userId:~._-@"},
    {"userId:\\'\"<>", true, "userId:%5C%27%22%3C%3E"},
    {"phoneNumber:+12125551234", true, "phoneNumber:%2B12125551234"},
    {"x:jdoe", true, "x:jdoe"},
    {"abc-._~@XYZ09", false, "abc-._~@XYZ09"},
    {"a:b", false, "a%3Ab"},
    {"doc_1", false, "doc_1"},
    {"a/../b", false, "a%2F..%2Fb"},
};

START_TEST(path_encode_table)
{
	char out[128];
	const char *in = path_cases[_i].in;
	size_t n = kg_path_encode(in, strlen(in), path_cases[_i].locator, out, sizeof(out));

	ck_assert_str_eq(out, path_cases[_i].out);
	ck_assert_uint_eq(n, strlen(path_cases[_i].out));
}
END_TEST

START_TEST(path_encode_capacity)
{
	char out[8];

	ck_assert_uint_eq(kg_path_encode("ab", 2, false, out, 3), 2);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(kg_path_encode("abc", 3, false, out, 3), 0);
	ck_assert_uint_eq(kg_path_encode("/", 1, false, out, 4), 3);
	ck_assert_str_eq(out, "%2F");
	ck_assert_uint_eq(kg_path_encode("/", 1, false, out, 3), 0);
	ck_assert_uint_eq(kg_path_encode("x", 1, false, out, 0), 0);
	/* An embedded NUL is encoded, never a terminator. */
	ck_assert_uint_eq(kg_path_encode("a\0b", 3, false, out, sizeof(out)), 5);
	ck_assert_str_eq(out, "a%00b");
}
END_TEST

/* ---- document types, media types -------------------------------------------------------- */

START_TEST(doc_types)
{
	static const char *const names[] = {
	    "id-passport",         "id-idcard-front",  "id-idcard-back",
	    "id-residency-permit", "proof-of-address", "proof-of-income",
	    "selfie-front",        "selfie-left",      "selfie-right",
	};

	ck_assert_int_eq(KG_DOC_TYPE_COUNT, 9);
	for (int i = 0; i < KG_DOC_TYPE_COUNT; i++) {
		enum kg_doc_type t = kg_doc_type_parse(names[i], strlen(names[i]));

		ck_assert_int_eq(t, i);
		ck_assert_str_eq(kg_doc_type_name(t), names[i]);
	}
	ck_assert_int_eq(kg_doc_type_parse("id-ssn", 6), KG_DOC_INVALID);
	ck_assert_int_eq(kg_doc_type_parse("ID-PASSPORT", 11), KG_DOC_INVALID);
	ck_assert_int_eq(kg_doc_type_parse("id-passport ", 12), KG_DOC_INVALID);
	ck_assert_int_eq(kg_doc_type_parse("id-pass", 7), KG_DOC_INVALID);
	ck_assert_int_eq(kg_doc_type_parse("", 0), KG_DOC_INVALID);
	ck_assert_int_eq(kg_doc_type_parse("id-passportX", 11), KG_DOC_ID_PASSPORT);
	ck_assert_ptr_null(kg_doc_type_name(KG_DOC_INVALID));
	ck_assert_ptr_null(kg_doc_type_name(KG_DOC_TYPE_COUNT));
}
END_TEST

START_TEST(mime_parse_and_sniff)
{
	static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0};
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0};
	static const unsigned char png_short[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A};

	ck_assert_int_eq(kg_mime_parse("image/jpeg"), KG_MIME_JPEG);
	ck_assert_int_eq(kg_mime_parse("IMAGE/JPEG; charset=x"), KG_MIME_JPEG);
	ck_assert_int_eq(kg_mime_parse(" image/png "), KG_MIME_PNG);
	ck_assert_int_eq(kg_mime_parse("image/png;"), KG_MIME_PNG);
	ck_assert_int_eq(kg_mime_parse("Application/PDF ; x=y"), KG_MIME_PDF);
	ck_assert_int_eq(kg_mime_parse("image/gif"), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_parse("image/jpg"), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_parse("image/jpegx"), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_parse("image/ jpeg"), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_parse("application/json"), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_parse(";image/png"), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_parse(""), KG_MIME_NONE);
	ck_assert_int_eq(kg_mime_parse(NULL), KG_MIME_NONE);
	ck_assert_str_eq(kg_mime_name(KG_MIME_JPEG), "image/jpeg");
	ck_assert_str_eq(kg_mime_name(KG_MIME_PNG), "image/png");
	ck_assert_str_eq(kg_mime_name(KG_MIME_PDF), "application/pdf");
	ck_assert_ptr_null(kg_mime_name(KG_MIME_NONE));
	ck_assert_ptr_null(kg_mime_name(KG_MIME_OTHER));
	ck_assert_int_eq(kg_mime_sniff(jpeg, sizeof(jpeg)), KG_MIME_JPEG);
	ck_assert_int_eq(kg_mime_sniff(jpeg, 2), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_sniff(png, sizeof(png)), KG_MIME_PNG);
	ck_assert_int_eq(kg_mime_sniff(png_short, sizeof(png_short)), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_sniff((const unsigned char *)"%PDF-1.7", 8), KG_MIME_PDF);
	ck_assert_int_eq(kg_mime_sniff((const unsigned char *)"%PDF", 4), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_sniff((const unsigned char *)" %PDF-", 6), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_sniff((const unsigned char *)"GIF89a", 6), KG_MIME_OTHER);
	ck_assert_int_eq(kg_mime_sniff(NULL, 0), KG_MIME_OTHER);
}
END_TEST

/* ---- dates and times -------------------------------------------------------------------- */

START_TEST(date_valid_table)
{
	static const char *const good[] = {"2024-02-29", "2000-02-29", "2023-12-31", "1900-01-01",
	                                   "2023-04-30", "0001-01-01", "9999-12-31"};
	static const char *const bad[] = {
	    "2023-02-29", "2023-02-30", "1900-02-29",  "2100-02-29", "2023-13-01",  "2023-00-10",
	    "2023-01-00", "2023-04-31", "2023-1-01",   "2023-01-1",  "2023-01-01T", "20230101",
	    "2023/01/01", "+023-01-01", " 2023-01-01", "2023-01-32", "abcd-ef-gh",  "",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(kg_date_valid(good[i], strlen(good[i])), "%s refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!kg_date_valid(bad[i], strlen(bad[i])), "%s accepted", bad[i]);
	ck_assert(!kg_date_valid("2023-01-0\0", 10));
	ck_assert(!kg_date_valid(NULL, 0));
}
END_TEST

static const struct {
	const char *in;
	const char *out; /* NULL: refused */
	long long epoch;
} rfc3339_cases[] = {
    {"2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z", 1705314600},
    {"2025-01-01T01:30:00+02:00", "2024-12-31T23:30:00Z", 1735687800},
    {"2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z", 1735691400},
    {"2024-01-15t10:30:00z", "2024-01-15T10:30:00Z", 1705314600},
    {"2024-01-15T10:30:00.123456789Z", "2024-01-15T10:30:00.123456789Z", 1705314600},
    {"2024-01-15T10:30:00.5+01:00", "2024-01-15T09:30:00.5Z", 1705311000},
    {"2024-03-01T00:15:00+00:30", "2024-02-29T23:45:00Z", 1709250300},
    {"2024-01-15T10:30:00+00:00", "2024-01-15T10:30:00Z", 1705314600},
    {"2024-01-15T10:30:00-00:00", "2024-01-15T10:30:00Z", 1705314600},
    {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", 0},
    {"1970-01-01T00:59:59+01:00", "1969-12-31T23:59:59Z", -1},
    {"1900-03-01T00:00:00Z", "1900-03-01T00:00:00Z", -2203891200},
    {"9999-12-31T23:59:59-00:00", "9999-12-31T23:59:59Z", 253402300799},
    {"2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z", 1709208000},
    {"2024-06-30T23:59:59-23:59", "2024-07-01T23:58:59Z", 1719878339},
    {"2024-01-15T10:30:00", NULL, 0},
    {"2024-01-15T10:30:00.123", NULL, 0},
    {"2024-01-15T10:30:00.1234567890Z", NULL, 0},
    {"2024-01-15T10:30:00.Z", NULL, 0},
    {"2024-01-15T24:00:00Z", NULL, 0},
    {"2024-01-15T10:60:00Z", NULL, 0},
    {"2024-01-15T23:59:60Z", NULL, 0},
    {"2024-01-15T10:30:00+24:00", NULL, 0},
    {"2024-01-15T10:30:00+02:60", NULL, 0},
    {"2024-01-15T10:30:00+0200", NULL, 0},
    {"2024-01-15T10:30:00+02", NULL, 0},
    {"2024-01-15T10:30:00 Z", NULL, 0},
    {"2024-01-15T10:30:00Z ", NULL, 0},
    {"2024-01-15 10:30:00Z", NULL, 0},
    {"2024-01-15T10:30Z", NULL, 0},
    {"2023-02-29T00:00:00Z", NULL, 0},
    {"2024-13-01T00:00:00Z", NULL, 0},
    {"2024-1-15T10:30:00Z", NULL, 0},
    {"2024-01-15", NULL, 0},
    {"0000-01-01T00:30:00+01:00", NULL, 0},
    {"9999-12-31T23:30:00-01:00", NULL, 0},
    {"", NULL, 0},
};

START_TEST(rfc3339_table)
{
	char out[40];
	long long epoch = 42;
	const char *in = rfc3339_cases[_i].in;
	bool ok = kg_rfc3339_to_utc(in, strlen(in), out, sizeof(out), &epoch);

	if (rfc3339_cases[_i].out == NULL) {
		ck_assert_msg(!ok, "%s accepted as %s", in, out);
		return;
	}
	ck_assert_msg(ok, "%s refused", in);
	ck_assert_str_eq(out, rfc3339_cases[_i].out);
	ck_assert_int_eq(epoch, rfc3339_cases[_i].epoch);
}
END_TEST

START_TEST(rfc3339_capacity)
{
	char out[40];
	const char *in = "2024-01-15T10:30:00.123456789+01:00";

	ck_assert(kg_rfc3339_to_utc(in, strlen(in), out, 31, NULL));
	ck_assert_str_eq(out, "2024-01-15T09:30:00.123456789Z");
	ck_assert(!kg_rfc3339_to_utc(in, strlen(in), out, 30, NULL));
	ck_assert(!kg_rfc3339_to_utc(NULL, 0, out, sizeof(out), NULL));
}
END_TEST

/* ---- countries -------------------------------------------------------------------------- */

START_TEST(countries)
{
	int valid = 0, eu = 0;
	char cc[3] = {0};
	static const char *const eu_eea[] = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE",
	                                     "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
	                                     "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK",
	                                     "SI", "ES", "SE", "IS", "LI", "NO"};

	for (cc[0] = 'A'; cc[0] <= 'Z'; cc[0]++) {
		for (cc[1] = 'A'; cc[1] <= 'Z'; cc[1]++) {
			valid += kg_country_valid(cc, 2);
			eu += kg_country_eu_eea(cc);
			if (kg_country_eu_eea(cc))
				ck_assert(kg_country_valid(cc, 2));
		}
	}
	ck_assert_int_eq(valid, 249);
	ck_assert_int_eq(eu, 30);
	for (size_t i = 0; i < sizeof(eu_eea) / sizeof(eu_eea[0]); i++)
		ck_assert_msg(kg_country_eu_eea(eu_eea[i]), "%s", eu_eea[i]);
	ck_assert(kg_country_valid("DE", 2));
	ck_assert(kg_country_valid("US", 2));
	ck_assert(kg_country_valid("GB", 2));
	ck_assert(kg_country_valid("AX", 2));
	ck_assert(kg_country_valid("ZW", 2));
	ck_assert(kg_country_valid("SS", 2));
	ck_assert(!kg_country_valid("XK", 2));
	ck_assert(!kg_country_valid("UK", 2));
	ck_assert(!kg_country_valid("EU", 2));
	ck_assert(!kg_country_valid("de", 2));
	ck_assert(!kg_country_valid("De", 2));
	ck_assert(!kg_country_valid("D", 1));
	ck_assert(!kg_country_valid("DEU", 3));
	ck_assert(!kg_country_valid("", 0));
	ck_assert(!kg_country_valid(NULL, 2));
	ck_assert(kg_country_valid("DEU", 2));
	ck_assert(!kg_country_eu_eea("CH"));
	ck_assert(!kg_country_eu_eea("GB"));
	ck_assert(!kg_country_eu_eea("US"));
	ck_assert(!kg_country_eu_eea("de"));
	ck_assert(!kg_country_eu_eea("DEU"));
	ck_assert(!kg_country_eu_eea(""));
	ck_assert(!kg_country_eu_eea(NULL));
}
END_TEST

/* ---- wallets ---------------------------------------------------------------------------- */

START_TEST(wallet_bodies)
{
	struct json_object *body = J("{\"chain\":\"base\"}");
	struct json_object *errors = (struct json_object *)1;

	ck_assert_int_eq(kg_validate_wallet(body, &errors), KG_OK);
	ck_assert_ptr_null(errors);
	json_object_put(body);
	body = J("[]");
	ck_assert_int_eq(kg_validate_wallet(body, &errors), KG_ERR_INVALID);
	assert_json(errors, "[{\"pointer\":\"\",\"detail\":\"the body must be a JSON object\"}]");
	json_object_put(errors);
	json_object_put(body);
	ck_assert_int_eq(kg_validate_wallet(NULL, &errors), KG_ERR_INVALID);
	assert_error(errors, "", "JSON object");
	json_object_put(errors);
	ck_assert_int_eq(kg_validate_wallet(NULL, NULL), KG_ERR_INVALID);
}
END_TEST

/* ---- documents -------------------------------------------------------------------------- */

static const unsigned char JPEG[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10}; /* "/9j/4AAQ" */
static const unsigned char PNG[] = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A,
                                    0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D}; /* "iVBORw0KGgoAAAAN" */
static const unsigned char PDF[] = "%PDF-1.4\n";                         /* "JVBERi0xLjQK" */

#define LOC "userId:alice-1"
#define REF "{\"reference\":{\"userLocator\":\"userId:alice-1\"},"
#define JPEG_URL "\"data\":\"data:image/jpeg;base64,/9j/4AAQ\""
#define PNG_URL "\"data\":\"data:image/png;base64,iVBORw0KGgoAAAAN\""
#define PDF_URL "\"data\":\"data:application/pdf;base64,JVBERi0xLjQK\""

struct doc_result {
	enum kg_err err;
	struct json_object *out;
	struct json_object *errors;
	const char *detail;
};

static struct doc_result shape(const char *ct, const void *body, size_t len, const char *query,
                               size_t max, enum kg_doc_type type)
{
	struct kg_doc_input in = {.content_type = ct,
	                          .body = body,
	                          .body_len = len,
	                          .expires_at_query = query,
	                          .max_document_bytes = max};
	struct doc_result r = {0};

	r.out = (struct json_object *)1;
	r.errors = (struct json_object *)1;
	r.err = kg_shape_document(&in, LOC, type, &r.out, &r.detail, &r.errors);
	if (r.err == KG_OK) {
		ck_assert_ptr_null(r.detail);
		ck_assert_ptr_null(r.errors);
	} else {
		ck_assert_ptr_null(r.out);
		ck_assert_ptr_nonnull(r.detail);
	}
	return r;
}

static struct doc_result shape_json(const char *body, const char *query, size_t max)
{
	return shape("application/json", body, strlen(body), query, max, KG_DOC_ID_PASSPORT);
}

static void done(struct doc_result *r)
{
	json_object_put(r->out);
	json_object_put(r->errors);
}

/* Asserts a successful shape with exactly want as output. */
static void assert_doc_ok(struct doc_result r, const char *want)
{
	ck_assert_msg(r.err == KG_OK, "refused: %s", r.detail);
	assert_json(r.out, want);
	done(&r);
}

/* Asserts a failure with err, a detail containing detail, and (pointer != NULL) that error. */
static void assert_doc_fails(struct doc_result r, enum kg_err err, const char *detail,
                             const char *pointer)
{
	ck_assert_msg(r.err == err, "got %s (%s), want %s", kg_err_str(r.err), r.detail,
	              kg_err_str(err));
	ck_assert_msg(strstr(r.detail, detail) != NULL, "detail %s, want %s", r.detail, detail);
	if (pointer != NULL)
		assert_error(r.errors, pointer, detail);
	else
		ck_assert_ptr_null(r.errors);
	done(&r);
}

START_TEST(doc_raw_ok)
{
	assert_doc_ok(shape("image/jpeg", JPEG, sizeof(JPEG), NULL, 1024, KG_DOC_ID_PASSPORT),
	              REF "\"documentType\":\"id-passport\"," JPEG_URL "}");
	assert_doc_ok(
	    shape("IMAGE/PNG; q=1", PNG, sizeof(PNG), "2030-12-31", 1024, KG_DOC_SELFIE_FRONT),
	    REF "\"documentType\":\"selfie-front\"," PNG_URL ",\"expiresAt\":\"2030-12-31\"}");
	assert_doc_ok(
	    shape("application/pdf", PDF, sizeof(PDF) - 1, NULL, 1024, KG_DOC_PROOF_OF_ADDRESS),
	    REF "\"documentType\":\"proof-of-address\"," PDF_URL "}");
	/* Exactly at the limit. */
	assert_doc_ok(
	    shape("image/jpeg", JPEG, sizeof(JPEG), NULL, sizeof(JPEG), KG_DOC_ID_IDCARD_BACK),
	    REF "\"documentType\":\"id-idcard-back\"," JPEG_URL "}");
}
END_TEST

START_TEST(doc_raw_refused)
{
	assert_doc_fails(shape("image/jpeg", PNG, sizeof(PNG), NULL, 1024, KG_DOC_ID_PASSPORT),
	                 KG_ERR_MEDIA_TYPE, "does not match", NULL);
	assert_doc_fails(
	    shape("application/pdf", JPEG, sizeof(JPEG), NULL, 1024, KG_DOC_ID_PASSPORT),
	    KG_ERR_MEDIA_TYPE, "does not match", NULL);
	assert_doc_fails(shape("image/png", "hello", 5, NULL, 1024, KG_DOC_ID_PASSPORT),
	                 KG_ERR_MEDIA_TYPE, "does not match", NULL);
	assert_doc_fails(shape("image/gif", "GIF89a", 6, NULL, 1024, KG_DOC_ID_PASSPORT),
	                 KG_ERR_MEDIA_TYPE, "Content-Type", NULL);
	assert_doc_fails(shape("text/plain", JPEG, sizeof(JPEG), NULL, 1024, KG_DOC_ID_PASSPORT),
	                 KG_ERR_MEDIA_TYPE, "Content-Type", NULL);
	assert_doc_fails(
	    shape("application/octet-stream", JPEG, sizeof(JPEG), NULL, 1024, KG_DOC_ID_PASSPORT),
	    KG_ERR_MEDIA_TYPE, "Content-Type", NULL);
	assert_doc_fails(shape(NULL, JPEG, sizeof(JPEG), NULL, 1024, KG_DOC_ID_PASSPORT),
	                 KG_ERR_MEDIA_TYPE, "Content-Type", NULL);
	assert_doc_fails(shape("image/jpeg", "", 0, NULL, 1024, KG_DOC_ID_PASSPORT), KG_ERR_INVALID,
	                 "empty file", NULL);
	assert_doc_fails(
	    shape("image/jpeg", JPEG, sizeof(JPEG), NULL, sizeof(JPEG) - 1, KG_DOC_ID_PASSPORT),
	    KG_ERR_TOO_LARGE, "larger", NULL);
	assert_doc_fails(
	    shape("image/jpeg", JPEG, sizeof(JPEG), "2023-02-30", 1024, KG_DOC_ID_PASSPORT),
	    KG_ERR_INVALID, "expiresAt", NULL);
	assert_doc_fails(shape("image/jpeg", JPEG, sizeof(JPEG), "2030-12-31T00:00:00Z", 1024,
	                       KG_DOC_ID_PASSPORT),
	                 KG_ERR_INVALID, "expiresAt", NULL);
}
END_TEST

START_TEST(doc_json_ok)
{
	static const char *want_jpeg = REF "\"documentType\":\"id-passport\"," JPEG_URL "}";

	/* plain base64: the magic bytes decide */
	assert_doc_ok(shape_json("{\"data\":\"/9j/4AAQ\"}", NULL, 1024), want_jpeg);
	/* data URL */
	assert_doc_ok(
	    shape_json("{\"data\":\"data:image/png;base64,iVBORw0KGgoAAAAN\"}", NULL, 1024),
	    REF "\"documentType\":\"id-passport\"," PNG_URL "}");
	/* mimeType with plain base64 */
	assert_doc_ok(
	    shape_json("{\"data\":\"JVBERi0xLjQK\",\"mimeType\":\"application/pdf\"}", NULL, 1024),
	    REF "\"documentType\":\"id-passport\"," PDF_URL "}");
	/* mimeType and data URL agree (case and parameters ignored) */
	assert_doc_ok(shape_json("{\"mimeType\":\"IMAGE/PNG; x=1\",\"data\":\"data:image/png;"
	                         "base64,iVBORw0KGgoAAAAN\"}",
	                         NULL, 1024),
	              REF "\"documentType\":\"id-passport\"," PNG_URL "}");
	/* base64 without padding, and with CR/LF: re-encoded with padding */
	assert_doc_ok(shape_json("{\"data\":\"JVBERi0xLjQK\"}", NULL, 1024),
	              REF "\"documentType\":\"id-passport\"," PDF_URL "}");
	assert_doc_ok(shape_json("{\"data\":\"/9j/4AA\"}", NULL, 1024),
	              REF "\"documentType\":\"id-passport\","
	                  "\"data\":\"data:image/jpeg;base64,/9j/4AA=\"}");
	assert_doc_ok(shape_json("{\"data\":\"/9j/\\r\\n4AAQ\\n\"}", NULL, 1024), want_jpeg);
	assert_doc_ok(
	    shape_json("{\"data\":\"data:image/jpeg;base64,/9j/\\r\\n4AAQ\"}", NULL, 1024),
	    want_jpeg);
	/* expiresAt in the body, or in the query */
	assert_doc_ok(
	    shape_json("{\"data\":\"/9j/4AAQ\",\"expiresAt\":\"2024-02-29\"}", NULL, 1024),
	    REF "\"documentType\":\"id-passport\"," JPEG_URL ",\"expiresAt\":\"2024-02-29\"}");
	assert_doc_ok(shape_json("{\"data\":\"/9j/4AAQ\"}", "2031-01-31", 1024),
	              REF "\"documentType\":\"id-passport\"," JPEG_URL
	                  ",\"expiresAt\":\"2031-01-31\"}");
	/* Content-Type parameters; the scheme and ";base64," are case-insensitive */
	assert_doc_ok(shape("Application/JSON; charset=utf-8", "{\"data\":\"/9j/4AAQ\"}", 19, NULL,
	                    6, KG_DOC_ID_PASSPORT),
	              want_jpeg);
	assert_doc_ok(shape_json("{\"data\":\"DATA:image/jpeg;BASE64,/9j/4AAQ\"}", NULL, 1024),
	              want_jpeg);
}
END_TEST

START_TEST(doc_json_media_type)
{
	assert_doc_fails(shape_json("{\"data\":\"data:image/jpeg;base64,/9j/4AAQ\","
	                            "\"mimeType\":\"image/png\"}",
	                            NULL, 1024),
	                 KG_ERR_MEDIA_TYPE, "differ", NULL);
	assert_doc_fails(
	    shape_json("{\"data\":\"/9j/4AAQ\",\"mimeType\":\"image/png\"}", NULL, 1024),
	    KG_ERR_MEDIA_TYPE, "does not match", NULL);
	assert_doc_fails(shape_json("{\"data\":\"data:image/png;base64,/9j/4AAQ\"}", NULL, 1024),
	                 KG_ERR_MEDIA_TYPE, "does not match", NULL);
	assert_doc_fails(shape_json("{\"data\":\"data:image/gif;base64,R0lGODlh\"}", NULL, 1024),
	                 KG_ERR_MEDIA_TYPE, "must be image/jpeg", NULL);
	assert_doc_fails(
	    shape_json("{\"data\":\"/9j/4AAQ\",\"mimeType\":\"image/gif\"}", NULL, 1024),
	    KG_ERR_MEDIA_TYPE, "must be image/jpeg", NULL);
	assert_doc_fails(shape_json("{\"data\":\"/9j/4AAQ\",\"mimeType\":\"\"}", NULL, 1024),
	                 KG_ERR_MEDIA_TYPE, "must be image/jpeg", NULL);
	assert_doc_fails(shape_json("{\"data\":\"aGVsbG8=\"}", NULL, 1024), KG_ERR_MEDIA_TYPE,
	                 "not a JPEG, PNG or PDF", NULL);
	assert_doc_fails(
	    shape("image/jpeg", "{\"data\":\"/9j/4AAQ\"}", 19, NULL, 1024, KG_DOC_ID_PASSPORT),
	    KG_ERR_MEDIA_TYPE, "does not match", NULL);
}
END_TEST

START_TEST(doc_json_invalid)
{
	static const struct {
		const char *body;
		const char *pointer;
		const char *detail;
	} cases[] = {
	    {"{\"data\":\"/9j/ 4AAQ\"}", "/data", "base64"},
	    {"{\"data\":\" /9j/4AAQ\"}", "/data", "base64"},
	    {"{\"data\":\"/9j/4AAQ\\t\"}", "/data", "base64"},
	    {"{\"data\":\"/9j-4AAQ\"}", "/data", "base64"},
	    {"{\"data\":\"/9j_4AAQ\"}", "/data", "base64"},
	    {"{\"data\":\"/9j=4AAQ\"}", "/data", "base64"},
	    {"{\"data\":\"/9j/4A=\"}", "/data", "base64"},
	    {"{\"data\":\"/9j/4AAQ===\"}", "/data", "base64"},
	    {"{\"data\":\"\"}", "/data", "empty file"},
	    {"{\"data\":\"\\r\\n\"}", "/data", "empty file"},
	    {"{\"data\":\"data:image/png;base64,\"}", "/data", "empty file"},
	    {"{\"data\":\"data:image/png,iVBORw0KGgoAAAAN\"}", "/data", "data URL"},
	    {"{\"data\":\"data:;base64,iVBORw0KGgoAAAAN\"}", "/data", "data URL"},
	    {"{\"data\":\"data:image/png;charset=x;base64,iVBO\"}", "/data", "data URL"},
	    {"{\"data\":\"data:imagepng;base64,iVBO\"}", "/data", "data URL"},
	    {"{\"data\":\"data:image/;base64,iVBO\"}", "/data", "data URL"},
	    {"{\"data\":\"data:/png;base64,iVBO\"}", "/data", "data URL"},
	    {"{\"data\":\"data:image/png/x;base64,iVBO\"}", "/data", "data URL"},
	    {"{\"data\":\"data:\"}", "/data", "data URL"},
	    {"{\"data\":\"/9j/4AAQ\",\"expiresAt\":\"2023-02-30\"}", "/expiresAt", "date"},
	    {"{\"data\":\"/9j/4AAQ\",\"expiresAt\":\"2023-02-3\"}", "/expiresAt", "date"},
	    {"{\"data\":\"/9j/4AAQ\",\"expiresAt\":20300101}", "/expiresAt", "must be a string"},
	    {"{\"data\":\"/9j/4AAQ\",\"name\":\"x.jpg\"}", "/name", "unknown key"},
	    {"{\"data\":\"/9j/4AAQ\",\"a/b\":1}", "/a~1b", "unknown key"},
	    {"{\"mimeType\":\"image/jpeg\"}", "/data", "is required"},
	    {"{}", "/data", "is required"},
	    {"{\"data\":42}", "/data", "must be a string"},
	    {"{\"data\":null}", "/data", "must be a string"},
	    {"{\"data\":\"/9j/4AAQ\",\"mimeType\":5}", "/mimeType", "must be a string"},
	    {"[\"/9j/4AAQ\"]", "", "JSON object"},
	    {"\"/9j/4AAQ\"", "", "JSON object"},
	    {"{\"data\":\"/9j/4AAQ\",\"data\":\"/9j/4AAQ\"}", "", "duplicate key"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_doc_fails(shape_json(cases[i].body, NULL, 1024), KG_ERR_INVALID,
		                 cases[i].detail, cases[i].pointer);
}
END_TEST

START_TEST(doc_json_several_problems)
{
	struct doc_result r =
	    shape_json("{\"data\":5,\"x\":1,\"expiresAt\":\"2023-02-30\"}", NULL, 1024);

	ck_assert_int_eq(r.err, KG_ERR_INVALID);
	ck_assert_int_eq(json_object_array_length(r.errors), 3);
	assert_error(r.errors, "/x", "unknown key");
	assert_error(r.errors, "/data", "must be a string");
	assert_error(r.errors, "/expiresAt", "date");
	done(&r);
}
END_TEST

START_TEST(doc_json_other_refusals)
{
	assert_doc_fails(shape_json("{\"data\":\"/9j/4AAQ\"", NULL, 1024), KG_ERR_INVALID,
	                 "not valid JSON", NULL);
	assert_doc_fails(shape("application/json", "", 0, NULL, 1024, KG_DOC_ID_PASSPORT),
	                 KG_ERR_INVALID, "empty", NULL);
	/* 6 decoded bytes against a limit of 5: 413, from the base64 size, before decoding */
	assert_doc_fails(shape_json("{\"data\":\"/9j/4AAQ\"}", NULL, 5), KG_ERR_TOO_LARGE, "larger",
	                 NULL);
	assert_doc_fails(shape_json("{\"data\":\"data:image/jpeg;base64,/9j/4AAQ\"}", NULL, 5),
	                 KG_ERR_TOO_LARGE, "larger", NULL);
	/* expiresAt in the query and in the body */
	assert_doc_fails(
	    shape_json("{\"data\":\"/9j/4AAQ\",\"expiresAt\":\"2030-01-01\"}", "2030-01-01", 1024),
	    KG_ERR_INVALID, "both", "/expiresAt");
	/* a bad query expiresAt with a JSON body */
	assert_doc_fails(shape_json("{\"data\":\"/9j/4AAQ\"}", "2030-02-30", 1024), KG_ERR_INVALID,
	                 "expiresAt", NULL);
}
END_TEST

START_TEST(doc_errors_optional)
{
	struct kg_doc_input in = {.content_type = "application/json",
	                          .body = (const unsigned char *)"{\"x\":1}",
	                          .body_len = 7,
	                          .max_document_bytes = 10};
	struct json_object *out = NULL;
	const char *detail = NULL;

	ck_assert_int_eq(kg_shape_document(&in, LOC, KG_DOC_ID_PASSPORT, &out, &detail, NULL),
	                 KG_ERR_INVALID);
	ck_assert_ptr_nonnull(detail);
	ck_assert_ptr_null(out);
}
END_TEST

/* A 1 MiB document: decoded, re-encoded, and identical to the input. */
START_TEST(doc_large_round_trip)
{
	size_t n = 1024 * 1024, b64_len = (n + 2) / 3 * 4;
	unsigned char *file = malloc(n);
	char *body = malloc(b64_len + b64_len / 76 * 4 + 64);
	const char *data;
	struct doc_result r;
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		file[i] = (unsigned char)(i * 31 + 7);
	memcpy(file, PDF, 5);
	memcpy(body, "{\"data\":\"", 9);
	w = 9;
	/* base64 with a CRLF every 76 characters, as MIME encoders write it */
	{
		static const char abc[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t col = 0;

		for (size_t i = 0; i < n; i += 3) {
			unsigned long v = (unsigned long)file[i] << 16 |
			                  (i + 1 < n ? (unsigned long)file[i + 1] << 8 : 0) |
			                  (i + 2 < n ? file[i + 2] : 0);
			int chars = i + 2 < n ? 4 : (i + 1 < n ? 3 : 2);

			for (int k = 0; k < chars; k++)
				body[w++] = abc[(v >> (18 - 6 * k)) & 0x3F];
			col += 4;
			if (col == 76) {
				memcpy(body + w, "\\r\\n", 4);
				w += 4;
				col = 0;
			}
		}
	}
	memcpy(body + w, "\"}", 3);
	r = shape("application/json", body, w + 2, NULL, n, KG_DOC_PROOF_OF_INCOME);
	ck_assert_int_eq(r.err, KG_OK);
	data = json_object_get_string(json_object_object_get(r.out, "data"));
	ck_assert_int_eq(strncmp(data, "data:application/pdf;base64,JVBER", 33), 0);
	ck_assert_uint_eq(strlen(data), strlen("data:application/pdf;base64,") + b64_len);
	done(&r);
	r = shape("application/json", body, w + 2, NULL, n - 1, KG_DOC_PROOF_OF_INCOME);
	ck_assert_int_eq(r.err, KG_ERR_TOO_LARGE);
	done(&r);
	r = shape("application/pdf", file, n, NULL, n, KG_DOC_PROOF_OF_INCOME);
	ck_assert_int_eq(r.err, KG_OK);
	done(&r);
	free(body);
	free(file);
}
END_TEST

/* ---- consent ---------------------------------------------------------------------------- */

static time_t consent_now(void)
{
	char out[40];
	long long epoch = 0;

	ck_assert(kg_rfc3339_to_utc("2025-06-01T00:00:00Z", 20, out, sizeof(out), &epoch));
	return (time_t)epoch;
}

static void assert_consent_ok(const char *body, const char *want)
{
	struct json_object *in = J(body), *out = NULL, *errors = (struct json_object *)1;
	enum kg_err err = kg_shape_consent(in, consent_now(), &out, &errors);

	ck_assert_msg(err == KG_OK, "%s refused: %s", body,
	              errors ? json_object_to_json_string(errors) : "");
	ck_assert_ptr_null(errors);
	assert_json(out, want);
	json_object_put(out);
	json_object_put(in);
}

/* Asserts the body is refused with exactly n errors, the first being {pointer, detail}. */
static void assert_consent_fails(const char *body, size_t n, const char *pointer,
                                 const char *detail)
{
	struct json_object *in = J(body), *out = (struct json_object *)1, *errors = NULL;

	ck_assert_int_eq(kg_shape_consent(in, consent_now(), &out, &errors), KG_ERR_INVALID);
	ck_assert_ptr_null(out);
	assert_error(errors, pointer, detail);
	ck_assert_msg(json_object_array_length(errors) == n, "%s: %s", body,
	              json_object_to_json_string(errors));
	json_object_put(errors);
	json_object_put(in);
}

START_TEST(consent_ok)
{
	assert_consent_ok(
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-01-01T01:30:00+02:00\"}",
	    "{\"type\":\"crossmint-privacy-policy\","
	    "\"acceptedAt\":\"2024-12-31T23:30:00Z\"}");
	assert_consent_ok("{\"acceptedAt\":\"2025-05-31T12:00:00Z\",\"type\":\"privacy-policy\"}",
	                  "{\"type\":\"crossmint-privacy-policy\","
	                  "\"acceptedAt\":\"2025-05-31T12:00:00Z\"}");
	assert_consent_ok(
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-05-31t12:00:00.250z\"}",
	    "{\"type\":\"crossmint-privacy-policy\","
	    "\"acceptedAt\":\"2025-05-31T12:00:00.250Z\"}");
	assert_consent_ok(
	    "{\"type\":\"terms-of-service\",\"acceptedAt\":\"2025-05-31T18:00:00-05:00\","
	    "\"region\":\"eu\"}",
	    "{\"type\":\"crossmint-terms-of-service\","
	    "\"acceptedAt\":\"2025-05-31T23:00:00Z\",\"region\":\"eu\"}");
	assert_consent_ok("{\"type\":\"terms-of-service\",\"acceptedAt\":\"2025-05-31T00:00:00Z\","
	                  "\"region\":\"worldwide\"}",
	                  "{\"type\":\"crossmint-terms-of-service\","
	                  "\"acceptedAt\":\"2025-05-31T00:00:00Z\",\"region\":\"worldwide\"}");
	/* region with the privacy policy is validated and forwarded */
	assert_consent_ok("{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-05-31T00:00:00Z\","
	                  "\"region\":\"us\"}",
	                  "{\"type\":\"crossmint-privacy-policy\","
	                  "\"acceptedAt\":\"2025-05-31T00:00:00Z\",\"region\":\"us\"}");
	/* Crossmint's own spellings, as a GET of the user shows them (issue 7, item 7) */
	assert_consent_ok("{\"type\":\"crossmint-privacy-policy\","
	                  "\"acceptedAt\":\"2025-05-31T12:00:00Z\"}",
	                  "{\"type\":\"crossmint-privacy-policy\","
	                  "\"acceptedAt\":\"2025-05-31T12:00:00Z\"}");
	assert_consent_ok("{\"type\":\"crossmint-terms-of-service\","
	                  "\"acceptedAt\":\"2025-05-31T12:00:00Z\",\"region\":\"us\"}",
	                  "{\"type\":\"crossmint-terms-of-service\","
	                  "\"acceptedAt\":\"2025-05-31T12:00:00Z\",\"region\":\"us\"}");
	/* leap day, and the 300 s of clock skew allowed */
	assert_consent_ok("{\"type\":\"privacy-policy\",\"acceptedAt\":\"2024-02-29T10:00:00Z\"}",
	                  "{\"type\":\"crossmint-privacy-policy\","
	                  "\"acceptedAt\":\"2024-02-29T10:00:00Z\"}");
	assert_consent_ok("{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T00:05:00Z\"}",
	                  "{\"type\":\"crossmint-privacy-policy\","
	                  "\"acceptedAt\":\"2025-06-01T00:05:00Z\"}");
	assert_consent_ok(
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T02:05:00+02:00\"}",
	    "{\"type\":\"crossmint-privacy-policy\","
	    "\"acceptedAt\":\"2025-06-01T00:05:00Z\"}");
}
END_TEST

START_TEST(consent_refused)
{
	assert_consent_fails("{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-01-01T01:30:00\"}",
	                     1, "/acceptedAt",
	                     "acceptedAt: a time without a UTC offset is ambiguous");
	assert_consent_fails(
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2023-02-29T10:00:00Z\"}", 1,
	    "/acceptedAt", "RFC 3339");
	assert_consent_fails("{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-01-01\"}", 1,
	                     "/acceptedAt", "RFC 3339");
	assert_consent_fails(
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-01-01T25:00:00Z\"}", 1,
	    "/acceptedAt", "RFC 3339");
	assert_consent_fails(
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T00:05:01Z\"}", 1,
	    "/acceptedAt", "future");
	assert_consent_fails(
	    "{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-06-01T00:00:00-01:00\"}", 1,
	    "/acceptedAt", "future");
	assert_consent_fails("{\"type\":\"privacy-policy\",\"acceptedAt\":1748736000}", 1,
	                     "/acceptedAt", "must be a string");
	assert_consent_fails(
	    "{\"type\":\"terms-of-service\",\"acceptedAt\":\"2025-05-31T00:00:00Z\"}", 1, "/region",
	    "required for terms-of-service");
	assert_consent_fails(
	    "{\"type\":\"terms-of-service\",\"acceptedAt\":\"2025-05-31T00:00:00Z\","
	    "\"region\":\"EU\"}",
	    1, "/region", "eu, us or worldwide");
	assert_consent_fails("{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-05-31T00:00:00Z\","
	                     "\"region\":\"mars\"}",
	                     1, "/region", "eu, us or worldwide");
	assert_consent_fails(
	    "{\"type\":\"terms-of-service\",\"acceptedAt\":\"2025-05-31T00:00:00Z\","
	    "\"region\":null}",
	    1, "/region", "must be a string");
	assert_consent_fails("{\"type\":\"privacy-policy\",\"acceptedAt\":\"2025-05-31T00:00:00Z\","
	                     "\"foo\":1}",
	                     1, "/foo", "unknown key");
	assert_consent_fails("{\"type\":\"crossmint-privacy-polic\","
	                     "\"acceptedAt\":\"2025-05-31T00:00:00Z\"}",
	                     1, "/type", "privacy-policy or terms-of-service");
	assert_consent_fails("{\"type\":\"crossmint-terms-of-service\","
	                     "\"acceptedAt\":\"2025-05-31T00:00:00Z\"}",
	                     1, "/region", "required for terms-of-service");
	assert_consent_fails(
	    "{\"type\":\"Privacy-Policy\",\"acceptedAt\":\"2025-05-31T00:00:00Z\"}", 1, "/type",
	    "privacy-policy or terms-of-service");
	assert_consent_fails("{\"type\":\"privacy-policy\\u0000\","
	                     "\"acceptedAt\":\"2025-05-31T00:00:00Z\"}",
	                     1, "/type", "privacy-policy or terms-of-service");
	assert_consent_fails("{\"acceptedAt\":\"2025-05-31T00:00:00Z\"}", 1, "/type", "required");
	assert_consent_fails("{\"type\":\"privacy-policy\"}", 1, "/acceptedAt", "required");
	assert_consent_fails("{}", 2, "/type", "required");
	assert_consent_fails("[]", 1, "", "JSON object");
	assert_consent_fails("\"privacy-policy\"", 1, "", "JSON object");
}
END_TEST

START_TEST(consent_all_problems_at_once)
{
	const char *body = "{\"type\":\"terms-of-service\",\"acceptedAt\":\"2025-01-01T00:00:00\","
	                   "\"x\":1,\"y\":2}";

	assert_consent_fails(body, 4, "/x", "unknown key");
	assert_consent_fails(body, 4, "/y", "unknown key");
	assert_consent_fails(body, 4, "/acceptedAt", "UTC offset");
	assert_consent_fails(body, 4, "/region", "required");
}
END_TEST

START_TEST(consent_null_body)
{
	struct json_object *out = NULL, *errors = NULL;

	ck_assert_int_eq(kg_shape_consent(NULL, consent_now(), &out, &errors), KG_ERR_INVALID);
	assert_error(errors, "", "JSON object");
	json_object_put(errors);
}
END_TEST

/* ---- users ------------------------------------------------------------------------------ */

static const char US_USER[] =
    "{\"userDetails\":{\"firstName\":\"John\",\"lastName\":\"Doe\",\"dateOfBirth\":\"1990-01-15\","
    "\"countryOfResidence\":\"US\"},"
    "\"kycData\":{\"nationality\":\"US\",\"addressOfResidence\":{\"line1\":\"123 Main Street\","
    "\"line2\":\"Apt 4B\",\"city\":\"New York\",\"stateOrRegion\":\"NY\",\"postalCode\":\"10001\"},"
    "\"email\":\"john.doe@example.com\",\"phoneNumber\":\"+12125551234\","
    "\"identityDocument\":{\"type\":\"ssn\",\"number\":\"123-45-6789\","
    "\"issuingCountryCode\":\"US\"},\"ipAddresses\":[\"203.0.113.7\",\"2001:db8::1\"]},"
    "\"dueDiligence\":{\"employmentStatus\":\"full-time\",\"sourceOfFunds\":\"salary-"
    "disbursement\","
    "\"industry\":\"financial-institution\",\"estimatedYearlyIncome\":\"income-50k-100k\","
    "\"expectedYearlyTxVolume\":\"volume-0-25k\"},"
    "\"verificationHistory\":{\"idVerificationTimestamp\":\"2024-01-15T10:30:00Z\","
    "\"livenessVerificationTimestamp\":\"2024-01-15T10:32:00.5+01:00\"}}";

static const char EU_USER[] =
    "{\"userDetails\":{\"firstName\":\"J\xc3\xbcrgen\",\"lastName\":\"M\xc3\xbcller-L\xc3\xbc"
    "denscheidt\",\"dateOfBirth\":\"1984-02-29\",\"countryOfResidence\":\"DE\"},"
    "\"kycData\":{\"nationality\":\"ES\",\"addressOfResidence\":{\"line1\":\"Hauptstra\xc3\x9f"
    "e 1\",\"city\":\"K\xc3\xb6ln\",\"postalCode\":\"50667\"},\"email\":\"j.m+kyc@example.de\","
    "\"identityDocument\":{\"type\":\"passport\",\"number\":\"AB123456\","
    "\"issuingCountryCode\":\"ES\"}},"
    "\"verificationHistory\":{\"idVerificationTimestamp\":\"2024-01-15T10:30:00+01:00\","
    "\"livenessVerificationTimestamp\":\"2024-01-15T10:32:00z\"}}";

/* Validates body (pass_unknown as validation.unknown_fields: pass); returns the errors (caller
 * puts). The body must come back unchanged. */
static struct json_object *user_errors_with(const char *body, bool pass_unknown, enum kg_err want)
{
	struct json_object *in = J(body), *copy = J(body), *errors = NULL;
	enum kg_err err = kg_validate_user(in, pass_unknown, &errors);

	ck_assert_ptr_nonnull(errors);
	ck_assert(json_object_is_type(errors, json_type_array));
	ck_assert_msg(err == want, "got %s: %s", kg_err_str(err),
	              json_object_to_json_string(errors));
	ck_assert(json_object_equal(in, copy));
	json_object_put(in);
	json_object_put(copy);
	return errors;
}

/* user_errors_with() with the default, unknown_fields: refuse. */
static struct json_object *user_errors(const char *body, enum kg_err want)
{
	return user_errors_with(body, false, want);
}

static void assert_user_ok(const char *body)
{
	struct json_object *errors = user_errors(body, KG_OK);

	ck_assert_int_eq(json_object_array_length(errors), 0);
	json_object_put(errors);
}

/* Asserts body gives exactly one error, {pointer, detail}. */
static void assert_user_error(const char *body, const char *pointer, const char *detail)
{
	struct json_object *errors = user_errors(body, KG_ERR_INVALID);

	assert_error(errors, pointer, detail);
	ck_assert_msg(json_object_array_length(errors) == 1, "%s",
	              json_object_to_json_string(errors));
	json_object_put(errors);
}

/* Unknown keys in every section: middleName, newField, country and extra. */
static const char UNKNOWN_NESTED[] =
    "{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\",\"middleName\":7,"
    "\"dateOfBirth\":\"2000-01-01\",\"countryOfResidence\":\"FR\"},"
    "\"kycData\":{\"newField\":{\"a\":[1,{\"b\":null}]},\"addressOfResidence\":{"
    "\"line1\":\"x\",\"city\":\"y\",\"postalCode\":\"z\",\"country\":\"FR\"}},"
    "\"dueDiligence\":{\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\","
    "\"industry\":\"c\",\"extra\":true}}";

START_TEST(user_valid)
{
	struct json_object *errors;

	assert_user_ok(US_USER);
	assert_user_ok(EU_USER);
	assert_user_ok("{\"kycData\":{}}");
	assert_user_ok("{\"kycData\":{\"ipAddresses\":[]}}");
	assert_user_ok("{\"kycData\":{\"addressOfResidence\":{\"line1\":\"a\",\"line2\":\"\","
	               "\"city\":\"b\",\"postalCode\":\"c\"}}}");
	/* validation.unknown_fields: pass lets unknown nested fields through untouched */
	errors = user_errors_with(UNKNOWN_NESTED, true, KG_OK);
	ck_assert_int_eq(json_object_array_length(errors), 0);
	json_object_put(errors);
}
END_TEST

/* {} would erase every section: refused, whatever the mode (issue 7, item 5). */
START_TEST(user_empty_refused)
{
	struct json_object *errors;

	assert_user_error("{}", "", "holds no section");
	errors = user_errors_with("{}", true, KG_ERR_INVALID);
	assert_error(errors, "", "would erase every section");
	json_object_put(errors);
}
END_TEST

/* Unknown keys at every level are refused by default, each with its pointer (issue 7, item 5). */
START_TEST(user_unknown_nested_refused)
{
	struct json_object *errors = user_errors(UNKNOWN_NESTED, KG_ERR_INVALID);

	assert_error(errors, "/userDetails/middleName", "unknown key");
	assert_error(errors, "/kycData/newField", "unknown key");
	assert_error(errors, "/kycData/addressOfResidence/country", "unknown key");
	assert_error(errors, "/dueDiligence/extra", "unknown key");
	ck_assert_int_eq(json_object_array_length(errors), 4);
	/* With no close key, the detail lists the known keys of that object. */
	assert_error(errors, "/dueDiligence/extra",
	             "the known keys here are employmentStatus, sourceOfFunds, industry, "
	             "estimatedYearlyIncome, expectedYearlyTxVolume");
	json_object_put(errors);
	/* Top-level keys are checked in either mode. */
	errors =
	    user_errors_with("{\"kycData\":{\"x\":1},\"userdetails\":{}}", true, KG_ERR_INVALID);
	assert_error(errors, "/userdetails", "unknown top-level key");
	ck_assert_int_eq(json_object_array_length(errors), 1);
	json_object_put(errors);
}
END_TEST

static const struct {
	const char *body;
	const char *pointer;
	const char *hint; /* "did you mean X?", or NULL when no key is close */
} hints[] = {
    {"{\"kycData\":{\"phonenumber\":\"+33612345678\"}}", "/kycData/phonenumber",
     "did you mean phoneNumber?"},
    {"{\"kycData\":{\"phone\":\"+33612345678\"}}", "/kycData/phone", "did you mean phoneNumber?"},
    {"{\"kycData\":{\"addressOfResidence\":{\"line1\":\"l\",\"city\":\"c\",\"postalCode\":"
     "\"p\",\"state\":\"NY\"}}}",
     "/kycData/addressOfResidence/state", "did you mean stateOrRegion?"},
    {"{\"kycData\":{\"addressOfResidence\":{\"line1\":\"l\",\"city\":\"c\",\"postcode\":"
     "\"p\",\"postalCode\":\"p\"}}}",
     "/kycData/addressOfResidence/postcode", "did you mean postalCode?"},
    {"{\"userDetails\":{\"first_name\":\"A\",\"lastName\":\"B\",\"dateOfBirth\":"
     "\"2000-01-01\",\"countryOfResidence\":\"FR\",\"firstName\":\"A\"}}",
     "/userDetails/first_name", "did you mean firstName?"},
    {"{\"userDetails\":{\"firstName\":\"A\",\"lastName\":\"B\",\"dateOfBrith\":"
     "\"2000-01-01\",\"countryOfResidence\":\"FR\",\"dateOfBirth\":\"2000-01-01\"}}",
     "/userDetails/dateOfBrith", "did you mean dateOfBirth?"},
    {"{\"kycData\":{\"identityDocument\":{\"type\":\"ssn\",\"number\":\"1\",\"Type\":1}}}",
     "/kycData/identityDocument/Type", "did you mean type?"},
    {"{\"kycdata\":{}}", "/kycdata", "did you mean kycData?"},
    {"{\"userDetail\":{}}", "/userDetail", "did you mean userDetails?"},
    {"{\"kycData\":{\"zip\":\"1\"}}", "/kycData/zip", NULL},
    {"{\"kycData\":{\"nat\":\"FR\"}}", "/kycData/nat", NULL},
    {"{\"profile\":{}}", "/profile", NULL},
};

/* The nearest known key is named when it is close, and only then. */
START_TEST(user_unknown_key_hint)
{
	struct json_object *errors = user_errors(hints[_i].body, KG_ERR_INVALID);
	struct json_object *e = json_object_array_get_idx(errors, 0);
	const char *detail = json_object_get_string(json_object_object_get(e, "detail"));

	ck_assert_int_eq(json_object_array_length(errors), 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(e, "pointer")),
	                 hints[_i].pointer);
	if (hints[_i].hint != NULL)
		ck_assert_msg(strstr(detail, hints[_i].hint) != NULL, "%s: %s", hints[_i].body,
		              detail);
	else
		ck_assert_msg(strstr(detail, "did you mean") == NULL, "%s: %s", hints[_i].body,
		              detail);
	json_object_put(errors);
}
END_TEST

/* The sections a body holds, for the erase guard. */
START_TEST(user_sections_held)
{
	struct json_object *b = J("{\"kycData\":{},\"verificationHistory\":null,\"x\":1}");

	ck_assert_str_eq(kg_user_section_name(0), "userDetails");
	ck_assert_str_eq(kg_user_section_name(1), "kycData");
	ck_assert_str_eq(kg_user_section_name(2), "dueDiligence");
	ck_assert_str_eq(kg_user_section_name(3), "verificationHistory");
	ck_assert_ptr_null(kg_user_section_name(KG_USER_SECTION_COUNT));
	ck_assert_uint_eq(kg_user_sections(b), (1u << 1) | (1u << 3));
	json_object_put(b);
	b = J("[]");
	ck_assert_uint_eq(kg_user_sections(b), 0);
	json_object_put(b);
	ck_assert_uint_eq(kg_user_sections(NULL), 0);
}
END_TEST

START_TEST(user_lengths_are_characters)
{
	char body[1024];
	char name[2 * 101 + 1];

	/* 100 two-byte characters: 200 bytes, 100 characters, accepted */
	for (int i = 0; i < 100; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[200] = '\0';
	snprintf(body, sizeof(body),
	         "{\"userDetails\":{\"firstName\":\"%s\",\"lastName\":\"B\","
	         "\"dateOfBirth\":\"2000-01-01\",\"countryOfResidence\":\"FR\"}}",
	         name);
	assert_user_ok(body);
	memcpy(name + 200, "\xc3\xa9", 3);
	snprintf(body, sizeof(body),
	         "{\"userDetails\":{\"firstName\":\"%s\",\"lastName\":\"B\","
	         "\"dateOfBirth\":\"2000-01-01\",\"countryOfResidence\":\"FR\"}}",
	         name);
	assert_user_error(body, "/userDetails/firstName", "1 to 100 characters");
}
END_TEST

/* A valid userDetails with one field replaced. */
#define UD(first, last, dob, cor)                                                                  \
	"{\"userDetails\":{\"firstName\":" first ",\"lastName\":" last ",\"dateOfBirth\":" dob     \
	",\"countryOfResidence\":" cor "}}"

START_TEST(user_details_errors)
{
	char s101[104];

	assert_user_error(UD("\"\"", "\"B\"", "\"2000-01-01\"", "\"FR\""), "/userDetails/firstName",
	                  "1 to 100 characters");
	memset(s101 + 1, 'a', 101);
	s101[0] = s101[102] = '"';
	s101[103] = '\0';
	{
		char body[512];

		snprintf(body, sizeof(body), UD("\"A\"", "%s", "\"2000-01-01\"", "\"FR\""), s101);
		assert_user_error(body, "/userDetails/lastName", "1 to 100 characters");
	}
	assert_user_error(UD("5", "\"B\"", "\"2000-01-01\"", "\"FR\""), "/userDetails/firstName",
	                  "must be a string");
	assert_user_error(UD("null", "\"B\"", "\"2000-01-01\"", "\"FR\""), "/userDetails/firstName",
	                  "must be a string");
	assert_user_error(UD("\"A\"", "[\"B\"]", "\"2000-01-01\"", "\"FR\""),
	                  "/userDetails/lastName", "must be a string");
	assert_user_error(UD("\"A\"", "\"B\"", "\"2023-02-30\"", "\"FR\""),
	                  "/userDetails/dateOfBirth", "exists");
	assert_user_error(UD("\"A\"", "\"B\"", "\"15/01/1990\"", "\"FR\""),
	                  "/userDetails/dateOfBirth", "exists");
	assert_user_error(UD("\"A\"", "\"B\"", "\"1990-01-15T00:00:00Z\"", "\"FR\""),
	                  "/userDetails/dateOfBirth", "exists");
	assert_user_error(UD("\"A\"", "\"B\"", "\"1899-12-31\"", "\"FR\""),
	                  "/userDetails/dateOfBirth", "1900");
	assert_user_error(UD("\"A\"", "\"B\"", "\"2999-01-01\"", "\"FR\""),
	                  "/userDetails/dateOfBirth", "future");
	assert_user_ok(UD("\"A\"", "\"B\"", "\"1900-01-01\"", "\"FR\""));
	assert_user_error(UD("\"A\"", "\"B\"", "19900115", "\"FR\""), "/userDetails/dateOfBirth",
	                  "must be a string");
	assert_user_error(UD("\"A\"", "\"B\"", "\"2000-01-01\"", "\"fr\""),
	                  "/userDetails/countryOfResidence", "ISO 3166-1 alpha-2");
	assert_user_error(UD("\"A\"", "\"B\"", "\"2000-01-01\"", "\"FRA\""),
	                  "/userDetails/countryOfResidence", "ISO 3166-1 alpha-2");
	assert_user_error(UD("\"A\"", "\"B\"", "\"2000-01-01\"", "\"XX\""),
	                  "/userDetails/countryOfResidence", "ISO 3166-1 alpha-2");
	assert_user_error(UD("\"A\"", "\"B\"", "\"2000-01-01\"", "\"F\\u0000\""),
	                  "/userDetails/countryOfResidence", "ISO 3166-1 alpha-2");
}
END_TEST

START_TEST(user_details_required)
{
	struct json_object *errors = user_errors("{\"userDetails\":{}}", KG_ERR_INVALID);

	ck_assert_int_eq(json_object_array_length(errors), 4);
	assert_error(errors, "/userDetails/firstName", "is required");
	assert_error(errors, "/userDetails/lastName", "is required");
	assert_error(errors, "/userDetails/dateOfBirth", "is required");
	assert_error(errors, "/userDetails/countryOfResidence", "is required");
	json_object_put(errors);
}
END_TEST

static const struct {
	const char *kyc; /* the kycData object */
	const char *pointer;
	const char *detail;
} kyc_cases[] = {
    {"{\"nationality\":\"UK\"}", "/kycData/nationality", "ISO 3166-1"},
    {"{\"nationality\":1}", "/kycData/nationality", "must be a string"},
    {"{\"email\":\"a b@c.de\"}", "/kycData/email", "e-mail"},
    {"{\"email\":\"a@b\"}", "/kycData/email", "e-mail"},
    {"{\"email\":\"\"}", "/kycData/email", "e-mail"},
    {"{\"email\":[]}", "/kycData/email", "must be a string"},
    {"{\"phoneNumber\":\"12125551234\"}", "/kycData/phoneNumber", "E.164"},
    {"{\"phoneNumber\":\"+0125551234\"}", "/kycData/phoneNumber", "E.164"},
    {"{\"phoneNumber\":\"+1 212 555 1234\"}", "/kycData/phoneNumber", "E.164"},
    {"{\"phoneNumber\":12125551234}", "/kycData/phoneNumber", "must be a string"},
    {"{\"addressOfResidence\":\"Main St\"}", "/kycData/addressOfResidence", "must be an object"},
    {"{\"addressOfResidence\":{\"city\":\"c\",\"postalCode\":\"p\"}}",
     "/kycData/addressOfResidence/line1", "is required"},
    {"{\"addressOfResidence\":{\"line1\":\"l\",\"postalCode\":\"p\"}}",
     "/kycData/addressOfResidence/city", "is required"},
    {"{\"addressOfResidence\":{\"line1\":\"l\",\"city\":\"c\"}}",
     "/kycData/addressOfResidence/postalCode", "is required"},
    {"{\"addressOfResidence\":{\"line1\":\"\",\"city\":\"c\",\"postalCode\":\"p\"}}",
     "/kycData/addressOfResidence/line1", "1 to 200"},
    {"{\"addressOfResidence\":{\"line1\":\"l\",\"city\":\"c\",\"postalCode\":"
     "\"123456789012345678901\"}}",
     "/kycData/addressOfResidence/postalCode", "1 to 20"},
    {"{\"addressOfResidence\":{\"line1\":\"l\",\"city\":\"c\",\"postalCode\":\"p\","
     "\"stateOrRegion\":\"\"}}",
     "/kycData/addressOfResidence/stateOrRegion", "1 to 100"},
    {"{\"addressOfResidence\":{\"line1\":\"l\",\"city\":\"c\",\"postalCode\":\"p\","
     "\"line2\":3}}",
     "/kycData/addressOfResidence/line2", "must be a string"},
    {"{\"identityDocument\":[]}", "/kycData/identityDocument", "must be an object"},
    {"{\"identityDocument\":{\"number\":\"1\"}}", "/kycData/identityDocument/type", "is required"},
    {"{\"identityDocument\":{\"type\":\"passport\"}}", "/kycData/identityDocument/number",
     "is required"},
    {"{\"identityDocument\":{\"type\":\"passport\",\"number\":\"1\","
     "\"issuingCountryCode\":\"es\"}}",
     "/kycData/identityDocument/issuingCountryCode", "ISO 3166-1"},
    {"{\"identityDocument\":{\"type\":\"\",\"number\":\"1\"}}", "/kycData/identityDocument/type",
     "1 to 64"},
    {"{\"ipAddresses\":\"203.0.113.7\"}", "/kycData/ipAddresses", "array of strings"},
    {"{\"ipAddresses\":[\"203.0.113.7\",7]}", "/kycData/ipAddresses/1", "must be a string"},
    {"{\"ipAddresses\":[\"\"]}", "/kycData/ipAddresses/0", "1 to 256"},
};

START_TEST(user_kyc_errors)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"kycData\":%s}", kyc_cases[_i].kyc);
	assert_user_error(body, kyc_cases[_i].pointer, kyc_cases[_i].detail);
}
END_TEST

START_TEST(user_due_diligence_and_history)
{
	assert_user_error("{\"dueDiligence\":{\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\"}}",
	                  "/dueDiligence/industry", "is required");
	assert_user_error("{\"dueDiligence\":{\"employmentStatus\":\"a\",\"sourceOfFunds\":\"b\","
	                  "\"industry\":\"c\",\"estimatedYearlyIncome\":7}}",
	                  "/dueDiligence/estimatedYearlyIncome", "must be a string");
	assert_user_error("{\"dueDiligence\":{\"employmentStatus\":\"\",\"sourceOfFunds\":\"b\","
	                  "\"industry\":\"c\"}}",
	                  "/dueDiligence/employmentStatus", "1 to 100");
	assert_user_error("{\"dueDiligence\":true}", "/dueDiligence", "must be an object");
	assert_user_error("{\"verificationHistory\":{\"idVerificationTimestamp\":"
	                  "\"2024-01-15T10:30:00\",\"livenessVerificationTimestamp\":"
	                  "\"2024-01-15T10:32:00Z\"}}",
	                  "/verificationHistory/idVerificationTimestamp", "UTC offset");
	assert_user_error("{\"verificationHistory\":{\"idVerificationTimestamp\":"
	                  "\"2024-01-15T10:30:00Z\",\"livenessVerificationTimestamp\":"
	                  "\"2023-02-29T10:32:00Z\"}}",
	                  "/verificationHistory/livenessVerificationTimestamp", "RFC 3339");
	assert_user_error("{\"verificationHistory\":{\"idVerificationTimestamp\":"
	                  "\"2024-01-15T10:30:00Z\"}}",
	                  "/verificationHistory/livenessVerificationTimestamp", "is required");
	assert_user_error("{\"verificationHistory\":[]}", "/verificationHistory",
	                  "must be an object");
}
END_TEST

START_TEST(user_top_level)
{
	static const char *unknown = "unknown top-level key; Crossmint replaces the whole user on "
	                             "every PUT, so a misspelt key would erase a section";
	struct json_object *errors;

	assert_user_error("{\"userDetail\":{}}", "/userDetail", unknown);
	assert_user_error("{\"a/b~c\":1}", "/a~1b~0c", unknown);
	assert_user_error("{\"kycData\":[]}", "/kycData", "must be an object");
	assert_user_error("{\"kycData\":null}", "/kycData", "must be an object");
	assert_user_error("[]", "", "JSON object");
	assert_user_error("\"user\"", "", "JSON object");
	assert_user_error("42", "", "JSON object");
	errors = NULL;
	ck_assert_int_eq(kg_validate_user(NULL, false, &errors), KG_ERR_INVALID);
	assert_error(errors, "", "JSON object");
	json_object_put(errors);
	ck_assert_int_eq(kg_validate_user(NULL, false, NULL), KG_ERR_INVALID);
}
END_TEST

START_TEST(user_every_problem_reported)
{
	struct json_object *errors = user_errors(
	    "{\"userdetails\":{},\"userDetails\":{\"firstName\":\"\",\"dateOfBirth\":\"2023-02-"
	    "29\","
	    "\"countryOfResidence\":\"us\"},\"kycData\":{\"email\":\"x\",\"phoneNumber\":\"+0\","
	    "\"addressOfResidence\":{}},\"dueDiligence\":{},\"verificationHistory\":"
	    "{\"idVerificationTimestamp\":\"2024-01-15T10:30:00\"}}",
	    KG_ERR_INVALID);

	assert_error(errors, "/userdetails", "unknown top-level key");
	assert_error(errors, "/userDetails/firstName", "1 to 100");
	assert_error(errors, "/userDetails/lastName", "is required");
	assert_error(errors, "/userDetails/dateOfBirth", "exists");
	assert_error(errors, "/userDetails/countryOfResidence", "ISO 3166-1");
	assert_error(errors, "/kycData/email", "e-mail");
	assert_error(errors, "/kycData/phoneNumber", "E.164");
	assert_error(errors, "/kycData/addressOfResidence/line1", "is required");
	assert_error(errors, "/kycData/addressOfResidence/city", "is required");
	assert_error(errors, "/kycData/addressOfResidence/postalCode", "is required");
	assert_error(errors, "/dueDiligence/employmentStatus", "is required");
	assert_error(errors, "/dueDiligence/sourceOfFunds", "is required");
	assert_error(errors, "/dueDiligence/industry", "is required");
	assert_error(errors, "/verificationHistory/idVerificationTimestamp", "UTC offset");
	assert_error(errors, "/verificationHistory/livenessVerificationTimestamp", "is required");
	ck_assert_int_eq(json_object_array_length(errors), 15);
	json_object_put(errors);
}
END_TEST

/* Details name the rule, never the value. */
START_TEST(user_details_never_echo_values)
{
	struct json_object *errors =
	    user_errors("{\"userDetails\":{\"firstName\":\"SECRETNAME\",\"lastName\":7,"
	                "\"dateOfBirth\":\"SECRETDOB\",\"countryOfResidence\":\"SECRETCC\"},"
	                "\"kycData\":{\"email\":\"SECRET@MAIL\",\"phoneNumber\":\"SECRETPHONE\"}}",
	                KG_ERR_INVALID);
	const char *text = json_object_to_json_string(errors);

	ck_assert_ptr_null(strstr(text, "SECRET"));
	ck_assert_int_eq(json_object_array_length(errors), 5);
	json_object_put(errors);
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *t = tcase_create("params");

	tcase_add_test(t, name_valid_table);
	tcase_add_loop_test(t, pct_decode_table, 0, sizeof(pct_cases) / sizeof(pct_cases[0]));
	tcase_add_test(t, pct_decode_capacity);
	tcase_add_loop_test(t, locator_valid_table, 0,
	                    sizeof(good_locators) / sizeof(good_locators[0]));
	tcase_add_loop_test(t, locator_invalid_table, 0,
	                    sizeof(bad_locators) / sizeof(bad_locators[0]));
	tcase_add_test(t, locator_lengths_and_nul);
	tcase_add_test(t, email_length_boundary);
	tcase_add_test(t, document_id_and_address);
	tcase_add_loop_test(t, path_encode_table, 0, sizeof(path_cases) / sizeof(path_cases[0]));
	tcase_add_test(t, path_encode_capacity);
	tcase_add_test(t, doc_types);
	tcase_add_test(t, mime_parse_and_sniff);
	tcase_add_test(t, date_valid_table);
	tcase_add_loop_test(t, rfc3339_table, 0, sizeof(rfc3339_cases) / sizeof(rfc3339_cases[0]));
	tcase_add_test(t, rfc3339_capacity);
	tcase_add_test(t, countries);
	tcase_add_test(t, wallet_bodies);
	suite_add_tcase(s, t);

	t = tcase_create("documents");
	tcase_add_test(t, doc_raw_ok);
	tcase_add_test(t, doc_raw_refused);
	tcase_add_test(t, doc_json_ok);
	tcase_add_test(t, doc_json_media_type);
	tcase_add_test(t, doc_json_invalid);
	tcase_add_test(t, doc_json_several_problems);
	tcase_add_test(t, doc_json_other_refusals);
	tcase_add_test(t, doc_errors_optional);
	tcase_add_test(t, doc_large_round_trip);
	suite_add_tcase(s, t);

	t = tcase_create("consent");
	tcase_add_test(t, consent_ok);
	tcase_add_test(t, consent_refused);
	tcase_add_test(t, consent_all_problems_at_once);
	tcase_add_test(t, consent_null_body);
	suite_add_tcase(s, t);

	t = tcase_create("users");
	tcase_add_test(t, user_valid);
	tcase_add_test(t, user_empty_refused);
	tcase_add_test(t, user_unknown_nested_refused);
	tcase_add_loop_test(t, user_unknown_key_hint, 0, sizeof(hints) / sizeof(hints[0]));
	tcase_add_test(t, user_sections_held);
	tcase_add_test(t, user_lengths_are_characters);
	tcase_add_test(t, user_details_errors);
	tcase_add_test(t, user_details_required);
	tcase_add_loop_test(t, user_kyc_errors, 0, sizeof(kyc_cases) / sizeof(kyc_cases[0]));
	tcase_add_test(t, user_due_diligence_and_history);
	tcase_add_test(t, user_top_level);
	tcase_add_test(t, user_every_problem_reported);
	tcase_add_test(t, user_details_never_echo_values);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(validate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
