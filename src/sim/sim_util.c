/* Small building blocks of the simulator: a string map, JSON answers, UTC clocks, random ids and
 * strict JSON parsing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sim_internal.h"

/* ---- string map ----------------------------------------------------------------------------- */

static size_t hash_key(const char *key)
{
	return kg_fnv1a(key, strlen(key));
}

static struct sim_map_entry **find_slot(const struct sim_map *map, const char *key)
{
	struct sim_map_entry **slot;

	if (map->n_buckets == 0)
		return NULL;
	slot = &map->buckets[hash_key(key) & (map->n_buckets - 1)];
	while (*slot != NULL && strcmp((*slot)->key, key) != 0)
		slot = &(*slot)->next;
	return slot;
}

void *sim_map_get(const struct sim_map *map, const char *key)
{
	struct sim_map_entry **slot = find_slot(map, key);

	return (slot == NULL || *slot == NULL) ? NULL : (*slot)->value;
}

/* Doubles the bucket array (or creates it); returns false when memory is short. */
static bool grow(struct sim_map *map)
{
	size_t n = map->n_buckets == 0 ? 64 : map->n_buckets * 2;
	struct sim_map_entry **buckets = calloc(n, sizeof(*buckets));
	size_t i;

	if (buckets == NULL)
		return false;
	for (i = 0; i < map->n_buckets; i++) {
		struct sim_map_entry *e = map->buckets[i];

		while (e != NULL) {
			struct sim_map_entry *next = e->next;
			size_t b = hash_key(e->key) & (n - 1);

			e->next = buckets[b];
			buckets[b] = e;
			e = next;
		}
	}
	free(map->buckets);
	map->buckets = buckets;
	map->n_buckets = n;
	return true;
}

enum kg_err sim_map_put(struct sim_map *map, const char *key, void *value)
{
	struct sim_map_entry *e;
	struct sim_map_entry **slot;

	if (map->count >= map->n_buckets && !grow(map))
		return KG_ERR_NOMEM;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return KG_ERR_NOMEM;
	e->key = strdup(key);
	if (e->key == NULL) {
		free(e);
		return KG_ERR_NOMEM;
	}
	e->value = value;
	slot = &map->buckets[hash_key(key) & (map->n_buckets - 1)];
	e->next = *slot;
	*slot = e;
	map->count++;
	return KG_OK;
}

void *sim_map_remove(struct sim_map *map, const char *key)
{
	struct sim_map_entry **slot = find_slot(map, key);
	struct sim_map_entry *e;
	void *value;

	if (slot == NULL || *slot == NULL)
		return NULL;
	e = *slot;
	*slot = e->next;
	value = e->value;
	free(e->key);
	free(e);
	map->count--;
	return value;
}

void sim_map_clear(struct sim_map *map, void (*free_value)(void *value))
{
	size_t i;

	for (i = 0; i < map->n_buckets; i++) {
		struct sim_map_entry *e = map->buckets[i];

		while (e != NULL) {
			struct sim_map_entry *next = e->next;

			if (free_value != NULL)
				free_value(e->value);
			free(e->key);
			free(e);
			e = next;
		}
	}
	free(map->buckets);
	map->buckets = NULL;
	map->n_buckets = 0;
	map->count = 0;
}

/* ---- answers -------------------------------------------------------------------------------- */

static void set_body(struct sim_answer *ans, unsigned status, char *body, size_t len, bool json)
{
	free(ans->body);
	ans->status = status;
	ans->body = body;
	ans->len = len;
	ans->json = json;
}

void sim_answer_json(struct sim_answer *ans, unsigned status, struct json_object *obj)
{
	const char *text;
	size_t len;
	char *copy = NULL;

	if (obj == NULL)
		goto fail;
	text = json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL)
		goto fail;
	copy = malloc(len + 1);
	if (copy == NULL)
		goto fail;
	memcpy(copy, text, len + 1);
	json_object_put(obj);
	set_body(ans, status, copy, len, true);
	return;
fail:
	json_object_put(obj);
	set_body(ans, 500, NULL, 0, false);
}

void sim_answer_error(struct sim_answer *ans, unsigned status, const char *msg)
{
	struct json_object *obj = json_object_new_object();

	if (obj != NULL) {
		json_object_object_add(obj, "error", json_object_new_boolean(1));
		json_object_object_add(obj, "message", json_object_new_string(msg));
	}
	sim_answer_json(ans, status, obj);
	if (ans->status == 500 && status != 500)
		ans->status = status; /* out of memory: keep the status, send no body */
}

void sim_answer_empty(struct sim_answer *ans, unsigned status)
{
	set_body(ans, status, NULL, 0, false);
}

void sim_answer_clear(struct sim_answer *ans)
{
	free(ans->body);
	memset(ans, 0, sizeof(*ans));
}

/* ---- clocks, ids, strings ------------------------------------------------------------------- */

void sim_utc_timestamp(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char date[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		date[0] = '\0';
	snprintf(out, cap, "%s.%03ldZ", date, ts.tv_nsec / 1000000L);
}

void sim_utc_today(char *out, size_t cap)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	if (strftime(out, cap, "%Y-%m-%d", &tm) == 0 && cap > 0)
		out[0] = '\0';
}

void sim_random_id(char *out, size_t cap, const char *prefix, size_t n_random)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[32];
	size_t plen = strlen(prefix);
	size_t i;

	if (n_random > sizeof(bytes))
		n_random = sizeof(bytes);
	if (cap < plen + 2 * n_random + 1) {
		if (cap > 0)
			out[0] = '\0';
		return;
	}
	if (getrandom(bytes, n_random, 0) != (ssize_t)n_random) {
		unsigned long long t = kg_now_ms() ^ (unsigned long long)(uintptr_t)out;

		for (i = 0; i < n_random; i++)
			bytes[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 131);
	}
	memcpy(out, prefix, plen);
	for (i = 0; i < n_random; i++) {
		out[plen + 2 * i] = hex[bytes[i] >> 4];
		out[plen + 2 * i + 1] = hex[bytes[i] & 15];
	}
	out[plen + 2 * n_random] = '\0';
}

char *sim_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

struct json_object *sim_parse_json(const char *buf, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t end;

	if (len == 0 || len > SIM_MAX_BODY_BYTES)
		return NULL;
	tok = json_tokener_new_ex(SIM_JSON_DEPTH);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (strchr(" \t\r\n", buf[end]) == NULL || buf[end] == '\0') {
			json_object_put(obj);
			obj = NULL;
			break;
		}
	}
out:
	json_tokener_free(tok);
	return obj;
}
