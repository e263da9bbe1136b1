/* The YouTube tools: video_metadata (YouTube Data API v3 with a key, the
 * keyless oEmbed endpoint without one) and video_transcript (a transcript
 * provider: GET {base}/transcript?video_id=ID&lang=L answering
 * {"video_id","language","segments":[{"start","duration","text"}]}).
 *
 * Both go through upstream_call_json() and so through the youtube_api and
 * video_analysis services: their cache holds the upstream's answer under
 * "meta:ID" / "oembed:ID" / "tr:ID:LANG", so a transcript is fetched once
 * per video and language and every page is cut from the cached copy.
 *
 * The API key travels in the query string (the Data API wants it there);
 * upstream.c never logs or reports a query string. */
#include "tools/tools.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YT_ID_LEN 11
#define YT_DESCRIPTION_CHARS 2000
#define YT_PAGE_DEFAULT 200
#define YT_PAGE_MAX 500
#define YT_LANG_MAX 16
#define YT_URL_MAX 2048

/* Seconds of an ISO 8601 duration (P[nW][nD][T[nH][nM][n[.f]S]]), as
 * contentDetails.duration holds them; -1 if it is not one.  Declared here
 * because tools.h is a fixed contract (the tests declare it too). */
int64_t youtube_duration_seconds(const char *iso);

/* At most 80 bytes of user input for an error message, as printable
 * ASCII (other bytes '?'), so the message stays valid UTF-8. */
static const char *quote(const char *in, char out[84])
{
    size_t i;
    for (i = 0; i < 80 && in[i] != '\0'; i++)
        out[i] = (unsigned char)in[i] < 0x20 || (unsigned char)in[i] > 0x7e ? '?' : in[i];
    if (in[i] != '\0' && i >= 3)
        memcpy(out + i - 3, "...", 3);
    out[i] = '\0';
    return out;
}

/* ---- video ids ----------------------------------------------------------------- */

static int id_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

/* The id at p if 11 id characters follow, ended by a separator. */
static int take_id(const char *p, char id[12])
{
    size_t n = 0;
    while (n <= YT_ID_LEN && id_char((unsigned char)p[n]))
        n++;
    if (n != YT_ID_LEN || (p[n] != '\0' && strchr("?&#/", p[n]) == NULL))
        return -1;
    memcpy(id, p, YT_ID_LEN);
    id[YT_ID_LEN] = '\0';
    return 0;
}

/* The v= parameter of a query string (after '?'). */
static const char *query_v(const char *q)
{
    while (q != NULL && *q != '\0' && *q != '#') {
        if (strncmp(q, "v=", 2) == 0)
            return q + 2;
        q = strchr(q, '&');
        if (q != NULL)
            q++;
    }
    return NULL;
}

static int host_is(const char *h, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(h, name, n) == 0;
}

static int youtube_host(const char *h, size_t n)
{
    static const char *const hosts[] = {"youtube.com", "www.youtube.com", "m.youtube.com",
                                        "music.youtube.com", "youtube-nocookie.com",
                                        "www.youtube-nocookie.com"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        if (host_is(h, n, hosts[i]))
            return 1;
    }
    return 0;
}

/* The id in the path (and query) of a youtube.com URL; path starts at '/'. */
static const char *path_id_start(const char *path)
{
    static const char *const prefixes[] = {"/shorts/", "/embed/", "/live/", "/v/", "/e/"};
    if (strncmp(path, "/watch", 6) == 0 && (path[6] == '?' || path[6] == '/')) {
        const char *q = strchr(path, '?');
        return q != NULL ? query_v(q + 1) : NULL;
    }
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], n) == 0)
            return path + n;
    }
    return NULL;
}

static int id_from_url(const char *s, char id[12], char *err, size_t errlen)
{
    const char *p = s;
    char q[84];
    if (strncasecmp(p, "https://", 8) == 0)
        p += 8;
    else if (strncasecmp(p, "http://", 7) == 0)
        p += 7;
    size_t hn = strcspn(p, "/?#");
    const char *host = p, *rest = p + hn, *start = NULL;
    const char *colon = memchr(host, ':', hn);
    size_t hlen = colon != NULL ? (size_t)(colon - host) : hn;
    if (host_is(host, hlen, "youtu.be") || host_is(host, hlen, "www.youtu.be"))
        start = *rest == '/' ? rest + 1 : NULL;
    else if (youtube_host(host, hlen))
        start = *rest == '/' ? path_id_start(rest) : NULL;
    else {
        snprintf(err, errlen, "'%s' is neither a YouTube URL (youtube.com, youtu.be) nor "
                 "an 11-character video id", quote(s, q));
        return -1;
    }
    if (start == NULL || *start == '\0') {
        snprintf(err, errlen, "no video id in '%s' (expected watch?v=ID, youtu.be/ID, "
                 "/shorts/ID, /embed/ID, /live/ID or /v/ID)", quote(s, q));
        return -1;
    }
    if (take_id(start, id) != 0) {
        snprintf(err, errlen, "the video id in '%s' is not 11 characters of A-Z a-z "
                 "0-9 _ -", quote(s, q));
        return -1;
    }
    return 0;
}

int youtube_video_id(const char *url_or_id, char id[12], char *err, size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (url_or_id == NULL || id == NULL) {
        snprintf(err, errlen, "no URL or video id given");
        return -1;
    }
    while (isspace((unsigned char)*url_or_id))
        url_or_id++;
    size_t n = strlen(url_or_id);
    while (n > 0 && isspace((unsigned char)url_or_id[n - 1]))
        n--;
    if (n == 0) {
        snprintf(err, errlen, "empty: expected a YouTube URL or an 11-character video id");
        return -1;
    }
    char buf[YT_URL_MAX];
    if (n >= sizeof(buf)) {
        snprintf(err, errlen, "too long (%zu bytes; a YouTube URL has fewer than %d)", n,
                 YT_URL_MAX);
        return -1;
    }
    memcpy(buf, url_or_id, n);
    buf[n] = '\0';
    if (n == YT_ID_LEN && take_id(buf, id) == 0)
        return 0;
    if (strpbrk(buf, "./") == NULL) {
        char q[84];
        snprintf(err, errlen, "'%s' is not a video id (11 characters of A-Z a-z 0-9 _ -) "
                 "nor a YouTube URL", quote(buf, q));
        return -1;
    }
    return id_from_url(buf, id, err, errlen);
}

/* ---- ISO 8601 durations --------------------------------------------------------------- */

int64_t youtube_duration_seconds(const char *iso)
{
    int64_t total = 0;
    int in_time = 0, any = 0;
    const char *p = iso;
    if (p == NULL || *p++ != 'P')
        return -1;
    while (*p != '\0') {
        if (*p == 'T' && !in_time) {
            in_time = 1;
            p++;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return -1;
        char *end;
        double v = strtod(p, &end);
        if (end == p || v > 1e12)
            return -1;
        int64_t unit = *end == 'W' && !in_time   ? 604800
                       : *end == 'D' && !in_time ? 86400
                       : *end == 'H' && in_time  ? 3600
                       : *end == 'M' && in_time  ? 60
                       : *end == 'S' && in_time  ? 1
                                                 : 0;
        if (unit == 0 || (v != (double)(int64_t)v && unit != 1))
            return -1; /* years and months have no fixed length; fractions only of S */
        total += (int64_t)(v * (double)unit);
        any = 1;
        p = end + 1;
    }
    return any && p[-1] != 'T' ? total : -1;
}

/* ---- helpers -------------------------------------------------------------------------- */

/* Bytes of the first max_chars UTF-8 characters of s. */
static size_t utf8_prefix(const char *s, size_t n, size_t max_chars)
{
    size_t chars = 0, i;
    for (i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;
        if (chars == max_chars)
            break;
        chars++;
    }
    return i;
}

static void fail(struct upstream_result *res, const char *service, enum upstream_rc rc,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(struct upstream_result *res, const char *service, enum upstream_rc rc,
                 const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(res->message, sizeof(res->message), "%.64s: ", service);
    va_start(ap, fmt);
    vsnprintf(res->message + n, sizeof(res->message) - (size_t)n, fmt, ap);
    va_end(ap);
    res->code = -1;
    res->rc = rc;
}

static void result_clear(struct upstream_result *res)
{
    memset(res, 0, sizeof(*res));
    res->retry_after_ns = -1;
}

/* base + suffix + escaped values, for GET URLs. */
static char *url_join(const char *base, const char *fmt, const char *v1, const char *v2,
                      const char *v3)
{
    char *e1 = upstream_escape(v1 ? v1 : ""), *e2 = upstream_escape(v2 ? v2 : "");
    char *e3 = upstream_escape(v3 ? v3 : ""), *url = NULL;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (e1 != NULL && e2 != NULL && e3 != NULL) {
        char path[YT_URL_MAX + 512];
        snprintf(path, sizeof(path), fmt, e1, e2, e3);
        if (asprintf(&url, "%.*s%s", (int)blen, base, path) < 0)
            url = NULL;
    }
    free(e1);
    free(e2);
    free(e3);
    return url;
}

static int64_t str_int(json_t *j)
{
    const char *s = json_string_value(j);
    if (json_is_integer(j))
        return json_integer_value(j);
    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    return strtoll(s, NULL, 10);
}

/* ---- metadata: Data API ----------------------------------------------------------------- */

static void set_or_missing(json_t *out, json_t *missing, const char *key, json_t *v)
{
    if (v != NULL)
        json_object_set_new(out, key, v);
    else
        json_array_append_new(missing, json_string(key));
}

static json_t *opt_string(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_copy(v) : NULL;
}

static json_t *opt_count(json_t *o, const char *key)
{
    int64_t n = str_int(json_object_get(o, key));
    return n >= 0 ? json_integer(n) : NULL;
}

static json_t *description(json_t *snip)
{
    json_t *d = json_object_get(snip, "description");
    if (!json_is_string(d))
        return NULL;
    size_t n = utf8_prefix(json_string_value(d), json_string_length(d), YT_DESCRIPTION_CHARS);
    return json_stringn(json_string_value(d), n);
}

static json_t *thumbnails(json_t *snip)
{
    json_t *t = json_object_get(snip, "thumbnails"), *out = json_object(), *v;
    const char *k;
    json_object_foreach(t, k, v) {
        json_t *th = json_pack("{s:O?}", "url", json_object_get(v, "url"));
        if (th == NULL)
            continue;
        if (json_is_integer(json_object_get(v, "width")))
            json_object_set(th, "width", json_object_get(v, "width"));
        if (json_is_integer(json_object_get(v, "height")))
            json_object_set(th, "height", json_object_get(v, "height"));
        json_object_set_new(out, k, th);
    }
    return out;
}

static json_t *map_data_api(const char *id, json_t *item)
{
    json_t *snip = json_object_get(item, "snippet");
    json_t *det = json_object_get(item, "contentDetails");
    json_t *st = json_object_get(item, "statistics");
    json_t *out = json_object(), *missing = json_array();
    const char *dur = json_string_value(json_object_get(det, "duration"));
    int64_t secs = dur != NULL ? youtube_duration_seconds(dur) : -1;
    json_object_set_new(out, "id", json_string(id));
    json_object_set_new(out, "title", opt_string(snip, "title") ?: json_string(""));
    json_object_set_new(out, "channel", opt_string(snip, "channelTitle") ?: json_string(""));
    set_or_missing(out, missing, "channel_id", opt_string(snip, "channelId"));
    set_or_missing(out, missing, "published_at", opt_string(snip, "publishedAt"));
    set_or_missing(out, missing, "duration_seconds", secs >= 0 ? json_integer(secs) : NULL);
    set_or_missing(out, missing, "views", opt_count(st, "viewCount"));
    set_or_missing(out, missing, "likes", opt_count(st, "likeCount"));
    set_or_missing(out, missing, "description", description(snip));
    json_object_set_new(out, "thumbnails", thumbnails(snip));
    json_object_set_new(out, "source", json_string("youtube_data_api"));
    json_object_set_new(out, "missing", missing);
    return out;
}

/* GET URL (taken over, freed here; NULL when building it ran out of memory) from
 * service SC through SVC, cached under KEY. 0, or -1 with RES saying why. */
static int fetch_json(struct app *a, struct mcp_call *c, const struct config_service *sc,
                      resil_service *svc, char *url, const char *key, json_t **j,
                      struct upstream_result *res)
{
    if (url == NULL) {
        fail(res, sc->name, UPSTREAM_TRANSPORT, "out of memory");
        return -1;
    }
    struct upstream_req req = {.method = "GET", .url = url, .cache_key = key,
                               .cache_key_len = strlen(key)};
    int rc = upstream_call_json(a->up, svc, sc, c, &req, j, res);
    free(url);
    return rc != 0 ? -1 : 0;
}

/* One YouTube request about video ID, cached under "PREFIX:ID" (an entry per endpoint).
 * A 404 names the missing video; other failures are left for the caller to refine. */
static int fetch_video(struct app *a, struct mcp_call *c, const char *id, const char *prefix,
                       char *url, json_t **j, struct upstream_result *res)
{
    const struct config_service *sc = &a->cfg.youtube;
    char key[24];
    snprintf(key, sizeof(key), "%s:%s", prefix, id);
    if (fetch_json(a, c, sc, a->youtube, url, key, j, res) == 0)
        return 0;
    if (res->http_status == 404)
        fail(res, sc->name, UPSTREAM_HTTP_CLIENT, "no video with id %s", id);
    return -1;
}

static int metadata_data_api(struct app *a, struct mcp_call *c, const char *id, json_t **out,
                             struct upstream_result *res)
{
    const struct config_service *sc = &a->cfg.youtube;
    json_t *j = NULL;
    char *url = url_join(sc->base_url, "/videos?part=snippet,contentDetails,statistics&id=%s"
                         "&key=%s%s", id, a->cfg.youtube_key, "");
    if (fetch_video(a, c, id, "meta", url, &j, res) != 0)
        return -1;
    json_t *item = json_array_get(json_object_get(j, "items"), 0);
    if (!json_is_object(item)) {
        fail(res, sc->name, UPSTREAM_HTTP_CLIENT, "no video with id %s", id);
        json_decref(j);
        return -1;
    }
    *out = map_data_api(id, item);
    json_decref(j);
    return 0;
}

/* ---- metadata: oEmbed ------------------------------------------------------------------- */

static json_t *map_oembed(const char *id, json_t *o)
{
    json_t *th = json_object(), *high = json_pack("{s:O?}", "url",
                                                  json_object_get(o, "thumbnail_url"));
    json_t *out = json_object();
    if (high != NULL && json_is_string(json_object_get(o, "thumbnail_url"))) {
        if (json_is_integer(json_object_get(o, "thumbnail_width")))
            json_object_set(high, "width", json_object_get(o, "thumbnail_width"));
        if (json_is_integer(json_object_get(o, "thumbnail_height")))
            json_object_set(high, "height", json_object_get(o, "thumbnail_height"));
        json_object_set_new(th, "high", high);
    } else {
        json_decref(high);
    }
    json_object_set_new(out, "id", json_string(id));
    json_object_set_new(out, "title", opt_string(o, "title") ?: json_string(""));
    json_object_set_new(out, "channel", opt_string(o, "author_name") ?: json_string(""));
    if (json_is_string(json_object_get(o, "author_url")))
        json_object_set(out, "channel_url", json_object_get(o, "author_url"));
    json_object_set_new(out, "thumbnails", th);
    json_object_set_new(out, "source", json_string("oembed"));
    json_object_set_new(out, "missing",
                        json_pack("[s,s,s,s,s,s]", "channel_id", "published_at",
                                  "duration_seconds", "views", "likes", "description"));
    return out;
}

static int metadata_oembed(struct app *a, struct mcp_call *c, const char *id, json_t **out,
                           struct upstream_result *res)
{
    const struct config_service *sc = &a->cfg.youtube;
    char watch[64];
    json_t *j = NULL;
    snprintf(watch, sizeof(watch), "https://www.youtube.com/watch?v=%s", id);
    char *url = url_join(sc->alt_url, "?url=%s&format=json%s%s", watch, "", "");
    if (fetch_video(a, c, id, "oembed", url, &j, res) != 0) {
        if (res->http_status == 401 || res->http_status == 403)
            fail(res, sc->name, UPSTREAM_HTTP_CLIENT,
                 "video %s is private or may not be embedded (oEmbed has no data on it; "
                 "configure a YouTube Data API key)", id);
        return -1;
    }
    *out = map_oembed(id, j);
    json_decref(j);
    return 0;
}

int youtube_metadata(struct app *a, struct mcp_call *c, const char *id, json_t **out,
                     struct upstream_result *res)
{
    if (res == NULL)
        return -1;
    result_clear(res);
    if (a == NULL || id == NULL || out == NULL) {
        fail(res, "youtube_api", UPSTREAM_TRANSPORT, "internal error: %s",
             "youtube_metadata called without app, id or output");
        return -1;
    }
    *out = NULL;
    int rc = a->cfg.youtube_key[0] != '\0' ? metadata_data_api(a, c, id, out, res)
                                           : metadata_oembed(a, c, id, out, res);
    if (rc == 0)
        json_object_set_new(*out, "cached", json_boolean(res->from_cache));
    return rc;
}

/* ---- transcripts ------------------------------------------------------------------------ */

static int lang_ok(const char *l)
{
    size_t n = strlen(l);
    if (n == 0 || n > YT_LANG_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)l[i]) && l[i] != '-' && l[i] != '_')
            return 0;
    }
    return 1;
}

/* Copy the segment's three fields (the provider may send more). */
static json_t *segment_copy(json_t *s)
{
    json_t *start = json_object_get(s, "start"), *dur = json_object_get(s, "duration");
    json_t *text = json_object_get(s, "text");
    return json_pack("{s:f, s:f, s:s}", "start", json_number_value(start), "duration",
                     json_number_value(dur), "text",
                     json_is_string(text) ? json_string_value(text) : "");
}

/* Build the page [offset, offset + limit) of the segments array. */
static json_t *transcript_page(const char *id, const char *lang, json_t *segs, size_t offset,
                               size_t limit)
{
    size_t total = json_array_size(segs);
    size_t end = offset + limit < total ? offset + limit : total;
    json_t *page = json_array();
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    for (size_t i = offset; i < end && page != NULL && f != NULL; i++) {
        json_t *s = segment_copy(json_array_get(segs, i));
        fprintf(f, "%s%s", i > offset ? " " : "", json_string_value(json_object_get(s, "text")));
        json_array_append_new(page, s);
    }
    if (f != NULL)
        fclose(f);
    json_t *out = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:s}", "id", id, "language", lang,
                            "segments", page, "offset", (json_int_t)offset, "count",
                            (json_int_t)(end - offset), "total", (json_int_t)total, "text",
                            text != NULL ? text : "");
    if (out != NULL && end < total)
        json_object_set_new(out, "next_offset", json_integer((json_int_t)end));
    free(text);
    return out;
}

static int transcript_fetch(struct app *a, struct mcp_call *c, const char *id,
                            const char *lang, json_t **j, struct upstream_result *res)
{
    const struct config_service *sc = &a->cfg.transcript;
    char key[48];
    char *url = url_join(sc->base_url, "/transcript?video_id=%s&lang=%s%s", id, lang, "");
    snprintf(key, sizeof(key), "tr:%s:%s", id, lang);
    int rc = fetch_json(a, c, sc, a->transcript, url, key, j, res);
    if (rc != 0 && res->http_status == 404)
        fail(res, sc->name, UPSTREAM_HTTP_CLIENT, "no transcript for video %s in language %s",
             id, lang);
    return rc;
}

int youtube_transcript(struct app *a, struct mcp_call *c, const char *id, const char *lang,
                       size_t offset, size_t limit, json_t **out, struct upstream_result *res)
{
    json_t *j = NULL;
    char q[84];
    if (res == NULL)
        return -1;
    result_clear(res);
    if (a == NULL || id == NULL || out == NULL) {
        fail(res, "video_analysis", UPSTREAM_TRANSPORT, "internal error: %s",
             "youtube_transcript called without app, id or output");
        return -1;
    }
    *out = NULL;
    lang = lang != NULL && *lang != '\0' ? lang : "en";
    if (!lang_ok(lang)) {
        fail(res, a->cfg.transcript.name, UPSTREAM_HTTP_CLIENT,
             "language '%.16s' is not a language code (1-16 of A-Z a-z 0-9 - _)",
             quote(lang, q));
        return -1;
    }
    limit = limit == 0 ? YT_PAGE_DEFAULT : limit > YT_PAGE_MAX ? YT_PAGE_MAX : limit;
    if (transcript_fetch(a, c, id, lang, &j, res) != 0)
        return -1;
    json_t *segs = json_object_get(j, "segments");
    size_t total = json_array_size(segs);
    if (!json_is_array(segs) || (offset > 0 && offset >= total)) {
        if (json_is_array(segs))
            fail(res, a->cfg.transcript.name, UPSTREAM_HTTP_CLIENT,
                 "offset %zu is past the end (the transcript has %zu segments)", offset, total);
        else
            fail(res, a->cfg.transcript.name, UPSTREAM_HTTP_SERVER,
                 "the provider's answer for %s has no segments array", id);
        json_decref(j);
        return -1;
    }
    const char *got = json_string_value(json_object_get(j, "language"));
    *out = transcript_page(id, got != NULL ? got : lang, segs, offset, limit);
    json_decref(j);
    if (*out == NULL) {
        fail(res, a->cfg.transcript.name, UPSTREAM_TRANSPORT, "out of memory");
        return -1;
    }
    json_object_set_new(*out, "cached", json_boolean(res->from_cache));
    return 0;
}

/* ---- the tools ------------------------------------------------------------------------- */

static const char annotations[] =
    "{\"readOnlyHint\":true,\"openWorldHint\":true,\"idempotentHint\":true}";

static const char metadata_input[] =
    "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":2048,\"description\":\"A YouTube URL (watch?v=, youtu.be/, /shorts/, "
    "/embed/, /live/) or an 11-character video id\"}},\"required\":[\"url\"],"
    "\"additionalProperties\":false}";

static const char metadata_output[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},"
    "\"channel\":{\"type\":\"string\"},\"channel_id\":{\"type\":\"string\"},"
    "\"channel_url\":{\"type\":\"string\"},\"published_at\":{\"type\":\"string\"},"
    "\"duration_seconds\":{\"type\":\"integer\",\"minimum\":0},"
    "\"views\":{\"type\":\"integer\",\"minimum\":0},"
    "\"likes\":{\"type\":\"integer\",\"minimum\":0},"
    "\"description\":{\"type\":\"string\"},\"thumbnails\":{\"type\":\"object\"},"
    "\"source\":{\"type\":\"string\",\"enum\":[\"youtube_data_api\",\"oembed\"]},"
    "\"missing\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"cached\":{\"type\":\"boolean\"}},"
    "\"required\":[\"id\",\"title\",\"channel\",\"thumbnails\",\"source\",\"missing\","
    "\"cached\"]}";

static const char transcript_input[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"url\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":2048,"
    "\"description\":\"A YouTube URL or an 11-character video id\"},"
    "\"language\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":16,\"default\":\"en\","
    "\"description\":\"Language code of the captions\"},"
    "\"offset\":{\"type\":\"integer\",\"minimum\":0,\"default\":0,"
    "\"description\":\"First segment of the page (next_offset of the previous page)\"},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500,\"default\":200,"
    "\"description\":\"Segments per page\"}},"
    "\"required\":[\"url\"],\"additionalProperties\":false}";

static const char transcript_output[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"string\"},\"language\":{\"type\":\"string\"},"
    "\"segments\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"start\":{\"type\":\"number\"},\"duration\":{\"type\":\"number\"},"
    "\"text\":{\"type\":\"string\"}},\"required\":[\"start\",\"duration\",\"text\"]}},"
    "\"offset\":{\"type\":\"integer\"},\"count\":{\"type\":\"integer\"},"
    "\"total\":{\"type\":\"integer\"},\"next_offset\":{\"type\":\"integer\"},"
    "\"text\":{\"type\":\"string\"},\"cached\":{\"type\":\"boolean\"}},"
    "\"required\":[\"id\",\"language\",\"segments\",\"offset\",\"count\",\"total\",\"text\"]}";

/* "1:02:03" or "3:33". */
static void clock_text(int64_t s, char *out, size_t n)
{
    if (s >= 3600)
        snprintf(out, n, "%" PRId64 ":%02d:%02d", s / 3600, (int)(s / 60 % 60), (int)(s % 60));
    else
        snprintf(out, n, "%d:%02d", (int)(s / 60), (int)(s % 60));
}

static json_t *metadata_result(json_t *m)
{
    char dur[32] = "", views[48] = "", date[32] = "";
    json_t *d = json_object_get(m, "duration_seconds"), *v = json_object_get(m, "views");
    const char *pub = json_string_value(json_object_get(m, "published_at"));
    const char *src = json_string_value(json_object_get(m, "source"));
    if (json_is_integer(d)) {
        clock_text(json_integer_value(d), dur + 2, sizeof(dur) - 2);
        memcpy(dur, ", ", 2);
    }
    if (json_is_integer(v))
        snprintf(views, sizeof(views), ", %" JSON_INTEGER_FORMAT " views", json_integer_value(v));
    if (pub != NULL)
        snprintf(date, sizeof(date), ", published %.10s", pub);
    char *text = NULL;
    if (asprintf(&text, "\"%s\" by %s%s%s%s (source: %s%s)",
                 json_string_value(json_object_get(m, "title")),
                 json_string_value(json_object_get(m, "channel")), dur, views, date, src,
                 src != NULL && strcmp(src, "oembed") == 0
                     ? "; no key configured, so duration, views, likes, publish date and "
                       "description are missing"
                     : "") < 0)
        text = NULL;
    json_t *r = mcp_result_text(text != NULL ? text : "video metadata", m);
    free(text);
    return r;
}

/* The tool's answer to a failed upstream call: nothing useful when the
 * call was cancelled (nothing is sent), else the message. */
static json_t *upstream_error(struct mcp_call *c, const struct upstream_result *res)
{
    if (c != NULL && mcp_call_cancelled(c))
        return mcp_result_errorf("cancelled");
    return mcp_result_errorf("%s", res->message);
}

static int video_metadata_tool(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    struct app *a = ctx;
    struct upstream_result res;
    char id[12], err[200];
    json_t *m = NULL;
    const char *url = json_string_value(json_object_get(args, "url"));
    if (youtube_video_id(url, id, err, sizeof(err)) != 0) {
        *result = mcp_result_errorf("url: %s", err);
        return *result != NULL ? 0 : -1;
    }
    if (youtube_metadata(a, c, id, &m, &res) != 0)
        *result = upstream_error(c, &res);
    else
        *result = metadata_result(m);
    return *result != NULL ? 0 : -1;
}

/* Optional integer argument in [min, max]; the schema checked it already,
 * this guards a caller that bypasses it. */
static int int_arg(json_t *args, const char *name, int64_t def, int64_t min, int64_t max,
                   int64_t *out, json_t **result)
{
    json_t *v = json_object_get(args, name);
    *out = def;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        *result = mcp_result_errorf("%s: must be an integer from %" PRId64 " to %" PRId64, name,
                                    min, max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

static json_t *transcript_result(json_t *t)
{
    char *text = NULL, more[64] = "";
    json_int_t off = json_integer_value(json_object_get(t, "offset"));
    json_int_t count = json_integer_value(json_object_get(t, "count"));
    json_t *next = json_object_get(t, "next_offset");
    const char *body = json_string_value(json_object_get(t, "text"));
    if (next != NULL)
        snprintf(more, sizeof(more), "; the next page starts at offset %" JSON_INTEGER_FORMAT,
                 json_integer_value(next));
    if (asprintf(&text, "Segments %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
                 " of %" JSON_INTEGER_FORMAT "%s:\n%s", off, off + count,
                 json_integer_value(json_object_get(t, "total")), more,
                 body != NULL ? body : "") < 0)
        text = NULL;
    json_t *r = mcp_result_text(text != NULL ? text : "transcript", t);
    free(text);
    return r;
}

static int video_transcript_tool(struct mcp_call *c, json_t *args, void *ctx, json_t **result)
{
    struct app *a = ctx;
    struct upstream_result res;
    char id[12], err[200];
    int64_t offset, limit;
    json_t *t = NULL;
    const char *url = json_string_value(json_object_get(args, "url"));
    const char *lang = json_string_value(json_object_get(args, "language"));
    *result = NULL;
    if (youtube_video_id(url, id, err, sizeof(err)) != 0) {
        *result = mcp_result_errorf("url: %s", err);
        return *result != NULL ? 0 : -1;
    }
    if (lang != NULL && !lang_ok(lang)) {
        char q[84];
        *result = mcp_result_errorf("language: '%.16s' is not a language code (1-16 of A-Z "
                                    "a-z 0-9 - _)", quote(lang, q));
        return *result != NULL ? 0 : -1;
    }
    if (int_arg(args, "offset", 0, 0, INT32_MAX, &offset, result) != 0 ||
        int_arg(args, "limit", YT_PAGE_DEFAULT, 1, YT_PAGE_MAX, &limit, result) != 0)
        return *result != NULL ? 0 : -1;
    if (c != NULL)
        mcp_call_progress(c, 0, 1, "fetching the transcript");
    if (youtube_transcript(a, c, id, lang, (size_t)offset, (size_t)limit, &t, &res) != 0) {
        *result = upstream_error(c, &res);
        return *result != NULL ? 0 : -1;
    }
    if (c != NULL)
        mcp_call_progress(c, 1, 1, "transcript fetched");
    *result = transcript_result(t);
    return *result != NULL ? 0 : -1;
}

int tools_register_youtube(struct app *a, char *err, size_t errlen)
{
    const struct mcp_tool tools[] = {
        {.name = "video_metadata", .title = "YouTube video metadata",
         .description = "Title, channel, duration, views, likes, publish date, description "
                        "and thumbnails of a YouTube video, from the YouTube Data API when a "
                        "key is configured, else from oEmbed (title, channel and thumbnail "
                        "only; 'missing' lists what is left out).",
         .input_schema = metadata_input, .output_schema = metadata_output,
         .annotations = annotations, .call = video_metadata_tool, .ctx = a},
        {.name = "video_transcript", .title = "YouTube video transcript",
         .description = "The transcript of a YouTube video as timed segments, one page at a "
                        "time: pass next_offset as offset to get the next page.",
         .input_schema = transcript_input, .output_schema = transcript_output,
         .annotations = annotations, .call = video_transcript_tool, .ctx = a},
    };
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
        if (mcp_server_add_tool(a->mcp, &tools[i], err, errlen) != 0)
            return -1;
    }
    return 0;
}
