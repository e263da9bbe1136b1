/* video_analyze: the composite tool the original system was built for.
 *
 *   1. metadata    youtube_metadata()      failure: isError (nothing to
 *                                          analyse without the video)
 *   2. transcript  youtube_transcript()    paged up to a bound; failure:
 *                                          go on without it (partial)
 *   3. analysis    ai_complete(want_json)  failure, breaker open, limiter:
 *                                          go on without it (partial)
 *   4. assemble    one structuredContent
 *
 * Each step sends a progress notification (total 4) and a log message.
 * Once the metadata is there the answer is never an error: what is missing
 * is listed in "degraded" with the reason the service gave, and "partial"
 * is true, so a model can say what it knows and why the rest is absent.
 * Cancellation is checked between steps (the upstream client aborts a
 * transfer in flight by itself). */
#include "tools/tools.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VA_STEPS 4.0
#define VA_DEFAULT_CHARS 20000u /* transcript characters sent to the model */
#define VA_MIN_CHARS 500u
#define VA_MAX_CHARS 200000u
#define VA_MAX_PAGES 64u        /* transcript pages fetched at most */
#define VA_MAX_ITEMS 16u        /* key_points / topics kept */
#define VA_MAX_ITEM_CHARS 400u  /* bytes of one key point or topic */

/* What one service did for this call (services.<name> in the result). */
struct va_usage {
    unsigned calls, attempts, cached;
    char error[320];
};

struct va_run {
    struct app *a;
    struct mcp_call *c;
    char id[12];
    const char *lang;
    const char *focus;
    size_t max_chars;
    json_t *video;      /* youtube_metadata's object */
    json_t *transcript; /* {language, segments, ...} or NULL */
    char *text;         /* transcript text, max_chars code points at most */
    size_t text_len, text_cap, text_chars;
    size_t segments;    /* taken into text */
    json_t *analysis;   /* or NULL */
    json_t *degraded;   /* [{part, reason, stage?}] */
    int partial;
    struct va_usage yt, tr, ai;
};

static const char va_input_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"url\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":2048,"
    "\"description\":\"YouTube URL (watch, youtu.be, shorts, embed, live) or the "
    "11-character video id\"},"
    "\"language\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$\","
    "\"default\":\"en\",\"description\":\"transcript language (BCP 47), default en\"},"
    "\"focus\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":500,"
    "\"description\":\"what the summary should concentrate on\"},"
    "\"max_transcript_chars\":{\"type\":\"integer\",\"minimum\":500,\"maximum\":200000,"
    "\"description\":\"transcript characters given to the model (default 20000)\"}},"
    "\"required\":[\"url\"],\"additionalProperties\":false}";

static const char va_output_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"video\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"title\":{\"type\":\"string\"}},\"required\":[\"id\",\"title\"]},"
    "\"transcript\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{"
    "\"language\":{\"type\":\"string\"},\"segments\":{\"type\":\"integer\",\"minimum\":0},"
    "\"total_segments\":{\"type\":\"integer\",\"minimum\":0},"
    "\"chars\":{\"type\":\"integer\",\"minimum\":0},\"truncated\":{\"type\":\"boolean\"}},"
    "\"required\":[\"language\",\"segments\",\"chars\",\"truncated\"]}]},"
    "\"analysis\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\",\"properties\":{"
    "\"summary\":{\"type\":\"string\"},"
    "\"key_points\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"topics\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"format\":{\"enum\":[\"json\",\"text\"]},\"input_truncated\":{\"type\":\"boolean\"}},"
    "\"required\":[\"summary\",\"key_points\",\"topics\",\"format\"]}]},"
    "\"partial\":{\"type\":\"boolean\"},"
    "\"degraded\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"part\":{\"enum\":[\"transcript\",\"ai\",\"ai_format\"]},"
    "\"reason\":{\"type\":\"string\"},\"stage\":{\"type\":\"string\"}},"
    "\"required\":[\"part\",\"reason\"]}},"
    "\"services\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"object\","
    "\"properties\":{\"calls\":{\"type\":\"integer\",\"minimum\":0},"
    "\"attempts\":{\"type\":\"integer\",\"minimum\":0},"
    "\"cached\":{\"type\":\"integer\",\"minimum\":0},"
    "\"error\":{\"type\":[\"string\",\"null\"]}},"
    "\"required\":[\"calls\",\"attempts\",\"cached\",\"error\"]}}},"
    "\"required\":[\"video\",\"transcript\",\"analysis\",\"partial\",\"degraded\","
    "\"services\"]}";

static const char va_annotations[] =
    "{\"title\":\"Analyse a YouTube video\",\"readOnlyHint\":true,"
    "\"openWorldHint\":true}";

static const char va_description[] =
    "Analyse a YouTube video: its metadata, its transcript and an AI summary with key "
    "points and topics, as one structured result. Reports progress. When the "
    "transcript or the AI service is unavailable (for example its circuit breaker is "
    "open) the result still has what could be fetched, with partial=true and the "
    "reason in degraded[].";

/* ---- small helpers -------------------------------------------------------- */

static void usage_note(struct va_usage *u, int rc, const struct upstream_result *res)
{
    u->calls++;
    u->attempts += res->attempts;
    if (res->from_cache)
        u->cached++;
    if (rc != 0)
        snprintf(u->error, sizeof u->error, "%s", res->message);
}

static json_t *usage_json(const struct va_usage *u)
{
    return json_pack("{s:i, s:i, s:i, s:o}", "calls", (int)u->calls, "attempts",
                     (int)u->attempts, "cached", (int)u->cached, "error",
                     u->error[0] != '\0' ? json_string(u->error) : json_null());
}

/* Record that a part is missing and why; the reason is the service's own
 * message ("ai_processing: circuit breaker is open; retry in 4.2 s"). */
static void degrade(struct va_run *r, const char *part, const char *reason,
                    const struct upstream_result *res)
{
    json_t *d = json_pack("{s:s, s:s}", "part", part, "reason",
                          reason[0] != '\0' ? reason : "no reason given");

    if (d != NULL && res != NULL && res->stage != RESIL_STAGE_NONE)
        json_object_set_new(d, "stage", json_string(resil_stage_name(res->stage)));
    if (d != NULL)
        json_array_append_new(r->degraded, d);
    r->partial = 1;
    mcp_call_log(r->c, MCP_LOG_WARNING, "video_analyze",
                 json_pack("{s:s, s:s, s:s}", "video", r->id, "missing", part, "reason",
                           reason));
}

static void step_done(struct va_run *r, double step, const char *message, json_t *data)
{
    mcp_call_progress(r->c, step, VA_STEPS, message);
    if (data != NULL)
        mcp_call_log(r->c, MCP_LOG_INFO, "video_analyze", data);
}

static const char *meta_str(const struct va_run *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->video, key));

    return s != NULL ? s : "";
}

/* ---- step 1: metadata ------------------------------------------------------ */

static int va_metadata(struct va_run *r, json_t **result)
{
    struct upstream_result res;
    int rc;

    memset(&res, 0, sizeof res);
    rc = youtube_metadata(r->a, r->c, r->id, &r->video, &res);
    usage_note(&r->yt, rc, &res);
    if (rc != 0 || r->video == NULL) {
        *result = mcp_result_errorf("video_analyze: cannot analyse video %s without its "
                                    "metadata: %s", r->id,
                                    res.message[0] != '\0' ? res.message : "no metadata");
        return -1;
    }
    step_done(r, 1, "metadata fetched",
              json_pack("{s:s, s:s, s:s, s:s}", "step", "metadata", "video", r->id,
                        "title", meta_str(r, "title"), "source", meta_str(r, "source")));
    return 0;
}

/* ---- step 2: transcript ------------------------------------------------------ */

/* Bytes of s (n bytes of UTF-8) holding at most max code points. */
static size_t utf8_prefix(const char *s, size_t n, size_t max, size_t *chars)
{
    size_t i = 0, k = 0;

    while (i < n) {
        if (((unsigned char)s[i] & 0xC0u) != 0x80u) {
            if (k == max)
                break;
            k++;
        }
        i++;
    }
    *chars = k;
    return i;
}

/* Append one segment's text (a space between segments); 1 when the
 * character budget is used up (the text was cut). */
static int text_append(struct va_run *r, const char *s, size_t n)
{
    size_t left = r->max_chars - r->text_chars, chars, take;

    /* the space between segments counts as one character */
    if (left == 0 || (r->text_len > 0 && left == 1))
        return 1;
    if (r->text_len > 0)
        left--;
    take = utf8_prefix(s, n, left, &chars);
    if (r->text_len + take + 2 > r->text_cap) {
        size_t cap = (r->text_len + take + 2) * 2;
        char *p = realloc(r->text, cap);

        if (p == NULL)
            return -1;
        r->text = p;
        r->text_cap = cap;
    }
    if (r->text_len > 0) {
        r->text[r->text_len++] = ' ';
        r->text_chars++;
    }
    memcpy(r->text + r->text_len, s, take);
    r->text_len += take;
    r->text[r->text_len] = '\0';
    r->text_chars += chars;
    return take < n;
}

/* Take one page's segments; returns 1 when another page should be
 * fetched (*offset set to it), 0 when done, -1 out of memory. */
static int take_page(struct va_run *r, json_t *page, size_t *offset, int *truncated)
{
    json_t *segs = json_object_get(page, "segments"), *seg, *next;
    size_t i, count = 0;

    json_array_foreach(segs, i, seg) {
        const char *t = json_string_value(json_object_get(seg, "text"));
        int full;

        if (t == NULL)
            continue;
        full = text_append(r, t, json_string_length(json_object_get(seg, "text")));
        if (full < 0)
            return -1;
        count++;
        if (full) {
            *truncated = 1;
            break;
        }
    }
    r->segments += count;
    next = json_object_get(page, "next_offset");
    if (*truncated || !json_is_integer(next) || json_integer_value(next) <= (json_int_t)*offset)
        return 0;
    *offset = (size_t)json_integer_value(next);
    return 1;
}

static int transcript_start(struct va_run *r, json_t *first)
{
    const char *lang = json_string_value(json_object_get(first, "language"));
    json_t *total = json_object_get(first, "total");

    r->transcript = json_pack("{s:s}", "language", lang != NULL ? lang : r->lang);
    if (r->transcript == NULL)
        return -1;
    if (json_is_integer(total))
        json_object_set_new(r->transcript, "total_segments",
                            json_integer(json_integer_value(total)));
    return 0;
}

static int transcript_page(struct va_run *r, size_t *offset, int *truncated)
{
    struct upstream_result res;
    json_t *page = NULL;
    int rc;

    memset(&res, 0, sizeof res);
    rc = youtube_transcript(r->a, r->c, r->id, r->lang, *offset, 0, &page, &res);
    usage_note(&r->tr, rc, &res);
    if (rc != 0 || !json_is_object(page)) {
        json_decref(page);
        if (mcp_call_cancelled(r->c))
            return -1;
        if (r->transcript != NULL)
            *truncated = 1;
        degrade(r, "transcript", res.message, &res);
        return 0;
    }
    rc = r->transcript == NULL ? transcript_start(r, page) : 0;
    if (rc == 0)
        rc = take_page(r, page, offset, truncated);
    json_decref(page);
    return rc;
}

/* Collect the transcript's text, page by page, up to max_chars; -1 only
 * when cancelled or out of memory (a missing transcript is a degradation). */
static int va_transcript(struct va_run *r)
{
    size_t offset = 0;
    int truncated = 0, more = 1;
    unsigned pages = 0;

    while (more == 1 && pages < VA_MAX_PAGES) {
        if (mcp_call_cancelled(r->c))
            return -1;
        more = transcript_page(r, &offset, &truncated);
        pages++;
    }
    if (more < 0)
        return -1;
    if (more == 1)
        truncated = 1; /* the page bound stopped us */
    if (r->transcript == NULL) {
        step_done(r, 2, "transcript unavailable", NULL);
        return 0;
    }
    json_object_set_new(r->transcript, "segments", json_integer((json_int_t)r->segments));
    json_object_set_new(r->transcript, "chars", json_integer((json_int_t)r->text_chars));
    json_object_set_new(r->transcript, "truncated", json_boolean(truncated));
    step_done(r, 2, "transcript fetched",
              json_pack("{s:s, s:s, s:I, s:I, s:b}", "step", "transcript", "video", r->id,
                        "segments", (json_int_t)r->segments, "chars",
                        (json_int_t)r->text_chars, "truncated", truncated));
    return 0;
}

/* ---- step 3: analysis ------------------------------------------------------------ */

static char *va_instruction(const struct va_run *r)
{
    char *s = NULL;
    int n = asprintf(&s,
                     "You analyse YouTube videos for a user. Answer with one JSON object "
                     "and nothing else: {\"summary\": string (3 to 6 sentences), "
                     "\"key_points\": [string] (3 to 8 short points), \"topics\": "
                     "[string] (2 to 8 short topic names)}. Use only the title, "
                     "description and transcript given; say so when they are too thin "
                     "to tell.%s%s",
                     r->focus != NULL ? " Concentrate the summary on: " : "",
                     r->focus != NULL ? r->focus : "");

    return n < 0 ? NULL : s;
}

/* The user message.  It names JSON as a whole word: the request asks for
 * it, and OpenAI's json_object mode refuses a conversation without it.
 * Fields the metadata lacks (oEmbed has no description) are left out. */
static char *va_prompt(const struct va_run *r)
{
    static const char *const fields[][2] = {
        {"title", "Title"}, {"channel", "Channel"}, {"description", "Description"}};
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);

    if (f == NULL)
        return NULL;
    fputs("Analyse this video and answer with the JSON object described.\n", f);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = meta_str(r, fields[i][0]);

        if (v[0] != '\0')
            fprintf(f, "%s: %s\n", fields[i][1], v);
    }
    if (r->transcript == NULL)
        fputs("\nNo transcript is available: work from the fields above.\n", f);
    else
        fprintf(f, "\nTranscript:\n%s\n", r->text != NULL ? r->text : "");
    if (fclose(f) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* Strings of a model's array, bounded in number and length. */
static json_t *string_list(json_t *v)
{
    json_t *out = json_array(), *item;
    size_t i;

    json_array_foreach(v, i, item) {
        size_t chars;
        const char *s = json_string_value(item);

        if (s == NULL || json_array_size(out) >= VA_MAX_ITEMS)
            continue;
        json_array_append_new(out, json_stringn(s, utf8_prefix(s, json_string_length(item),
                                                                VA_MAX_ITEM_CHARS, &chars)));
    }
    return out;
}

static void va_take_answer(struct va_run *r, const char *answer, json_t *js, int truncated)
{
    const char *summary = json_string_value(json_object_get(js, "summary"));
    int complete = summary != NULL && json_is_array(json_object_get(js, "key_points")) &&
                   json_is_array(json_object_get(js, "topics"));

    if (summary == NULL)
        summary = answer != NULL ? answer : "";
    r->analysis = json_pack("{s:s, s:o, s:o, s:s, s:b}", "summary", summary, "key_points",
                            string_list(json_object_get(js, "key_points")), "topics",
                            string_list(json_object_get(js, "topics")), "format",
                            js != NULL ? "json" : "text", "input_truncated", truncated);
    if (js == NULL)
        degrade(r, "ai_format", "the model did not answer with the JSON object asked for: "
                "its whole answer is the summary, without key points or topics", NULL);
    else if (!complete)
        degrade(r, "ai_format", "the model's JSON lacked summary, key_points or topics: "
                "what it gave is kept", NULL);
}

static int va_analyse(struct va_run *r)
{
    struct upstream_result res;
    char *instruction = va_instruction(r), *text = va_prompt(r), *answer = NULL;
    json_t *js = NULL;
    int truncated = 0, rc = -1;

    memset(&res, 0, sizeof res);
    if (mcp_call_cancelled(r->c) || instruction == NULL || text == NULL)
        goto out_free;
    rc = ai_complete(r->a, r->c, instruction, text, 1, &answer, &js, &truncated, &res);
    usage_note(&r->ai, rc, &res);
    if (mcp_call_cancelled(r->c)) {
        rc = -1;
        goto out_free;
    }
    if (rc != 0 || (answer == NULL && js == NULL))
        degrade(r, "ai", rc != 0 ? res.message : "the model gave an empty answer", &res);
    else
        va_take_answer(r, answer, json_is_object(js) ? js : NULL, truncated);
    step_done(r, 3, r->analysis != NULL ? "analysis done" : "analysis unavailable",
              json_pack("{s:s, s:s, s:b}", "step", "analysis", "video", r->id, "ok",
                        r->analysis != NULL));
    rc = 0;
out_free:
    json_decref(js);
    free(answer);
    free(text);
    free(instruction);
    return rc;
}

/* ---- step 4: the result ---------------------------------------------------------- */

static json_t *va_result(struct va_run *r)
{
    json_t *sc, *res;
    char *text;

    sc = json_pack("{s:O, s:O?, s:O?, s:b, s:O, s:{s:o, s:o, s:o}}", "video", r->video,
                   "transcript", r->transcript, "analysis", r->analysis, "partial",
                   r->partial, "degraded", r->degraded, "services",
                   r->a->cfg.youtube.name, usage_json(&r->yt),
                   r->a->cfg.transcript.name, usage_json(&r->tr),
                   r->a->cfg.ai.name, usage_json(&r->ai));
    if (sc == NULL)
        return NULL;
    /* The serialised JSON as text too, for clients that ignore
     * structuredContent (MCP 2025-06-18, "Structured Content"). */
    text = json_dumps(sc, JSON_COMPACT);
    if (text == NULL) {
        json_decref(sc);
        return NULL;
    }
    res = mcp_result_text(text, sc);
    free(text);
    return res;
}

static void va_clear(struct va_run *r)
{
    json_decref(r->video);
    json_decref(r->transcript);
    json_decref(r->analysis);
    json_decref(r->degraded);
    free(r->text);
}

static int va_args(struct va_run *r, json_t *args, json_t **result)
{
    const char *url = json_string_value(json_object_get(args, "url"));
    json_t *max = json_object_get(args, "max_transcript_chars");
    char err[200];

    if (url == NULL || youtube_video_id(url, r->id, err, sizeof err) != 0) {
        *result = mcp_result_errorf("argument 'url': %s",
                                    url == NULL ? "missing or not a string" : err);
        return -1;
    }
    r->lang = json_string_value(json_object_get(args, "language"));
    if (r->lang == NULL)
        r->lang = "en";
    r->focus = json_string_value(json_object_get(args, "focus"));
    r->max_chars = VA_DEFAULT_CHARS;
    if (json_is_integer(max)) {
        json_int_t v = json_integer_value(max);

        if (v < (json_int_t)VA_MIN_CHARS || v > (json_int_t)VA_MAX_CHARS) {
            *result = mcp_result_errorf("argument 'max_transcript_chars': %lld is outside "
                                        "%u..%u", (long long)v, VA_MIN_CHARS, VA_MAX_CHARS);
            return -1;
        }
        r->max_chars = (size_t)v;
    }
    return 0;
}

static json_t *cancelled_result(void)
{
    return mcp_result_errorf("video_analyze: cancelled");
}

static int video_analyze(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    struct va_run r;

    memset(&r, 0, sizeof r);
    r.a = ctx;
    r.c = c;
    *result = NULL;
    if (va_args(&r, args, result) != 0)
        return *result != NULL ? 0 : -1;
    r.degraded = json_array();
    if (r.degraded == NULL)
        return -1;
    if (va_metadata(&r, result) != 0)
        goto out;
    /* -1 from a step: cancelled (nothing will be sent) or out of memory
     * (no result: the caller answers -32603) */
    if (va_transcript(&r) != 0 || va_analyse(&r) != 0) {
        if (mcp_call_cancelled(c))
            *result = cancelled_result();
        goto out;
    }
    *result = va_result(&r);
    mcp_call_progress(c, 4, VA_STEPS, "done");
    log_event(LOG_INFO, "tool.video_analyze", "video", json_string(r.id), "partial",
              json_boolean(r.partial), "degraded", json_deep_copy(r.degraded), NULL);
out:
    va_clear(&r);
    return *result != NULL ? 0 : -1;
}

int tools_register_video(struct app *a, char *err, size_t errlen)
{
    const struct mcp_tool t = {
        .name = "video_analyze",
        .title = "Analyse a YouTube video",
        .description = va_description,
        .input_schema = va_input_schema,
        .output_schema = va_output_schema,
        .annotations = va_annotations,
        .call = video_analyze,
        .ctx = a,
    };

    return mcp_server_add_tool(a->mcp, &t, err, errlen);
}
