/* YAML text to a small tree (struct ynode), through libyaml's event API.
 *
 * The event API is used (not the document API) because it reports anchors and aliases, which the
 * config refuses; the tree keeps them as flags so the schema walk can name the key path. Syntax
 * errors carry libyaml's line and problem text (static strings, never document content). */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_internal.h"

struct ybuild {
	struct cfg_ctx *c;
	yaml_parser_t parser;
	const char *text;
	size_t len;
	size_t n_nodes;
};

void cfg_ynode_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n_kids; i++)
		cfg_ynode_free(n->kids[i]);
	free(n->kids);
	if (n->text != NULL)
		kg_wipe(n->text, n->len);
	free(n->text);
	free(n);
}

/* 1-based line of a byte offset (reader errors carry an offset, not a mark). */
static size_t line_of_offset(const char *text, size_t len, size_t off)
{
	size_t i, line = 1;

	for (i = 0; i < off && i < len; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

static void syntax_error(struct ybuild *b)
{
	yaml_parser_t *p = &b->parser;
	size_t line;

	if (p->error == YAML_MEMORY_ERROR) {
		b->c->nomem = true;
		return;
	}
	if (p->error == YAML_READER_ERROR)
		line = line_of_offset(b->text, b->len, p->problem_offset);
	else
		line = p->problem_mark.line + 1;
	if (p->context != NULL)
		cfg_err(b->c, line, "yaml syntax", "%s %s", p->problem ? p->problem : "error",
		        p->context);
	else
		cfg_err(b->c, line, "yaml syntax", "%s", p->problem ? p->problem : "error");
}

static bool next_event(struct ybuild *b, yaml_event_t *ev)
{
	if (yaml_parser_parse(&b->parser, ev))
		return true;
	syntax_error(b);
	return false;
}

static struct ynode *new_node(struct ybuild *b, enum ynode_type type, const yaml_event_t *ev)
{
	struct ynode *n;

	if (++b->n_nodes > CFG_MAX_NODES) {
		cfg_err(b->c, ev->start_mark.line + 1, "(root)", "more than %d YAML nodes",
		        CFG_MAX_NODES);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		b->c->nomem = true;
		return NULL;
	}
	n->type = type;
	n->line = ev->start_mark.line + 1;
	return n;
}

static bool add_kid(struct ybuild *b, struct ynode *parent, struct ynode *kid)
{
	if (parent->n_kids == parent->cap_kids) {
		size_t cap = parent->cap_kids ? 2 * parent->cap_kids : 8;
		struct ynode **k = realloc(parent->kids, cap * sizeof(*k));

		if (k == NULL) {
			b->c->nomem = true;
			return false;
		}
		parent->kids = k;
		parent->cap_kids = cap;
	}
	parent->kids[parent->n_kids++] = kid;
	return true;
}

static struct ynode *scalar_node(struct ybuild *b, const yaml_event_t *ev)
{
	struct ynode *n = new_node(b, Y_SCALAR, ev);

	if (n == NULL)
		return NULL;
	n->anchored = ev->data.scalar.anchor != NULL;
	n->tagged = ev->data.scalar.tag != NULL;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	n->len = ev->data.scalar.length;
	n->text = malloc(n->len + 1);
	if (n->text == NULL) {
		b->c->nomem = true;
		free(n);
		return NULL;
	}
	if (n->len > 0)
		memcpy(n->text, ev->data.scalar.value, n->len);
	n->text[n->len] = '\0';
	return n;
}

static bool build(struct ybuild *b, yaml_event_t *ev, unsigned depth, struct ynode **out);

/* Builds the children of a mapping or sequence until its end event. */
static bool build_kids(struct ybuild *b, struct ynode *n, yaml_event_type_t end, unsigned depth)
{
	yaml_event_t ev;
	struct ynode *kid;

	for (;;) {
		if (!next_event(b, &ev))
			return false;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return true;
		}
		if (!build(b, &ev, depth + 1, &kid))
			return false;
		if (!add_kid(b, n, kid)) {
			cfg_ynode_free(kid);
			return false;
		}
	}
}

/* Builds the node that starts with ev (consumed). Returns false after recording why. */
static bool build(struct ybuild *b, yaml_event_t *ev, unsigned depth, struct ynode **out)
{
	struct ynode *n = NULL;
	bool ok = false;

	*out = NULL;
	if (depth > CFG_MAX_DEPTH) {
		cfg_err(b->c, ev->start_mark.line + 1, "(root)", "nesting deeper than %d levels",
		        CFG_MAX_DEPTH);
		goto out;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = scalar_node(b, ev);
		ok = n != NULL;
		break;
	case YAML_ALIAS_EVENT:
		n = new_node(b, Y_ALIAS, ev);
		ok = n != NULL;
		break;
	case YAML_MAPPING_START_EVENT:
		n = new_node(b, Y_MAP, ev);
		if (n != NULL) {
			n->anchored = ev->data.mapping_start.anchor != NULL;
			n->tagged = ev->data.mapping_start.tag != NULL;
			ok = build_kids(b, n, YAML_MAPPING_END_EVENT, depth);
		}
		break;
	case YAML_SEQUENCE_START_EVENT:
		n = new_node(b, Y_SEQ, ev);
		if (n != NULL) {
			n->anchored = ev->data.sequence_start.anchor != NULL;
			n->tagged = ev->data.sequence_start.tag != NULL;
			ok = build_kids(b, n, YAML_SEQUENCE_END_EVENT, depth);
		}
		break;
	default:
		cfg_err(b->c, ev->start_mark.line + 1, "yaml syntax", "unexpected event");
		break;
	}
out:
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value != NULL) /* may be a secret */
		kg_wipe(ev->data.scalar.value, ev->data.scalar.length);
	yaml_event_delete(ev);
	if (!ok) {
		cfg_ynode_free(n);
		return false;
	}
	*out = n;
	return true;
}

/* libyaml copies the whole text (secrets included) into its raw and decoded buffers and frees
 * them without a wipe; their bounds are public fields of yaml_parser_t. */
static void wipe_parser(yaml_parser_t *p)
{
	if (p->raw_buffer.start != NULL)
		kg_wipe(p->raw_buffer.start, (size_t)(p->raw_buffer.end - p->raw_buffer.start));
	if (p->buffer.start != NULL)
		kg_wipe(p->buffer.start, (size_t)(p->buffer.end - p->buffer.start));
}
/* Reads the events after STREAM-START: nothing, or exactly one document. */
static bool parse_stream(struct ybuild *b, struct ynode **root)
{
	yaml_event_t ev;

	if (!next_event(b, &ev))
		return false;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return true;
	}
	yaml_event_delete(&ev); /* DOCUMENT-START */
	if (!next_event(b, &ev) || !build(b, &ev, 0, root))
		return false;
	if (!next_event(b, &ev)) /* DOCUMENT-END */
		return false;
	yaml_event_delete(&ev);
	if (!next_event(b, &ev))
		return false;
	if (ev.type != YAML_STREAM_END_EVENT) {
		cfg_err(b->c, ev.start_mark.line + 1, "(root)",
		        "only one YAML document is allowed");
		yaml_event_delete(&ev);
		return false;
	}
	yaml_event_delete(&ev);
	return true;
}

bool cfg_yaml_parse(struct cfg_ctx *c, const char *text, size_t len, struct ynode **root)
{
	struct ybuild b = {.c = c, .text = text, .len = len};
	yaml_event_t ev;
	bool ok = false;

	*root = NULL;
	if (!yaml_parser_initialize(&b.parser)) {
		c->nomem = true;
		return false;
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)(text ? text : ""), len);
	if (!next_event(&b, &ev)) /* STREAM-START */
		goto out;
	yaml_event_delete(&ev);
	ok = parse_stream(&b, root);
out:
	if (!ok) {
		cfg_ynode_free(*root);
		*root = NULL;
	}
	wipe_parser(&b.parser);
	yaml_parser_delete(&b.parser);
	return ok;
}
