/* JSON Schema validation of tool arguments and results: the subset of
 * draft 2020-12 that tool schemas use, checked against a compiled schema.
 *
 * Supported: type (string or array of types; "integer" accepts integral
 * numbers, also 5.0), properties, required, additionalProperties (bool or
 * schema), minProperties/maxProperties, propertyNames, dependentRequired,
 * items (a schema; the array form of older drafts is rejected),
 * prefixItems, minItems/maxItems, uniqueItems, contains/minContains/
 * maxContains, enum, const, minimum/maximum/exclusiveMinimum/
 * exclusiveMaximum, multipleOf, minLength/maxLength (in code points),
 * pattern (POSIX extended regex compiled once; the ECMA-262 \d and \D are
 * translated, as ERE lacks them), format ("uri", "date-time", "email":
 * checked loosely; other format values are ignored, as annotations),
 * anyOf/oneOf/allOf/not, $ref to a JSON pointer within the same document
 * ("#", "#/$defs/NAME", "#/definitions/NAME", ...), $defs/definitions.
 * Ignored (annotations): title, description, default, examples, $schema,
 * $id, $comment, readOnly, writeOnly, deprecated, contentMediaType,
 * contentEncoding.  A keyword we do not implement makes schema_compile()
 * fail naming it, so a schema never silently validates less than it says.
 *
 * The first failure is reported with the JSON path of the offending value
 * and why, in words a model can act on:
 *   "argument 'url': expected string, got integer"
 *   "argument 'limit': 500 is above the maximum 100"
 *   "missing required argument 'url'"
 *   "unexpected argument 'colour' (allowed: url, language)"
 * (for nested values the path is written like "options.lang" or
 * "items[2]"). */
#ifndef MCP_SCHEMA_H
#define MCP_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

struct schema;

/* Compile a schema (borrowed; the compiled form keeps a reference).
 * 0, or -1 with err saying what is wrong and where.  Limits: nesting of
 * the schema 32 levels, $ref chains 16 deep (a cycle is an error), 2048
 * subschemas per document. */
int schema_compile(json_t *doc, struct schema **out, char *err, size_t errlen);
void schema_free(struct schema *s);

/* Validate v.  0, or -1 with msg the first failure as above.  what names
 * the root ("argument" for tool inputs, "result" for outputs) and prefixes
 * paths.  Validation of deeply nested values stops at 64 levels with a
 * failure (never unbounded recursion), and so does one needing more than
 * 1024 nested subschema checks in all (a backstop). */
int schema_validate(const struct schema *s, const json_t *v, const char *what, char *msg,
                    size_t msglen);

/* The document the schema was compiled from (borrowed). */
json_t *schema_doc(const struct schema *s);

#endif
