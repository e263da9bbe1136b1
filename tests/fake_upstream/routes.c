/* The canned upstream APIs of fake-upstream.
 *
 * Every answer is byte-stable: fixed data, JSON in insertion order, compact
 * (FAKE_JSON_FLAGS). The shapes follow what the real services return, as documented
 * at developers.google.com/youtube/v3/docs/videos, oembed.com (section 2.3.4, the
 * 501 for an unsupported format) and platform.openai.com/docs/api-reference/chat.
 *
 *   GET  /youtube/v3/videos?part=P&id=ID[,ID...]&key=KEY
 *        YouTube Data API v3 videos.list; P is a comma list of snippet,
 *        contentDetails, statistics. Unknown ids are left out (200, items []).
 *        With --require-key: no key -> 403 (forbidden), wrong key -> 400
 *        (API_KEY_INVALID), both in Google's error shape.
 *   GET  /oembed?url=URL[&format=json]
 *        URL forms: youtube.com/watch?v=ID, youtu.be/ID, youtube.com/shorts/ID,
 *        youtube.com/embed/ID. No url -> 400 "Bad Request"; unknown video or not a
 *        YouTube URL -> 404 "Not Found"; format other than json -> 501.
 *   POST /v1/chat/completions
 *        OpenAI chat completions, non-streaming; see chat_completions() below.
 *   GET  /healthz -> 200 "ok"
 *
 * Transcript provider: our own simple format (no public API is imitated).
 *   GET /transcript?video_id=ID[&lang=en]
 *   200 {"video_id":ID,"language":"en",
 *        "segments":[{"start":S,"duration":D,"text":T},...]}
 *       S and D are seconds with at most 3 decimals; segments are contiguous, in
 *       order, and cover the video: 12 for the short videos, 1500 for LONGVIDEO01.
 *   400 {"error":"missing video_id"}
 *   404 {"error":"no transcript for ID"}                  unknown video
 *   404 {"error":"no transcript for ID in language L"}    lang other than "en"
 *
 * Unknown paths -> 404 "Not Found"; a known path with the wrong method -> 405.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    /* memmem */
#endif
#include "fake.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_video {
    const char *id, *title, *description;
    const char *channel_id, *channel_title, *author_url, *published_at;
    const char *duration;       /* ISO 8601, as contentDetails.duration */
    unsigned seconds, segments; /* the same length, for the transcript */
    const char *segment_fmt;    /* text of segment N (one %u) */
    const char *caption, *views, *likes, *comments;
};

static const struct fake_video videos[] = {
    { "dQw4w9WgXcQ", "Rick Astley - Never Gonna Give You Up (Official Music Video)",
      "The official video for \xe2\x80\x9cNever Gonna Give You Up\xe2\x80\x9d by "
      "Rick Astley.",
      "UCuAXFkgsw1L7xaCfnd5JJOw", "Rick Astley", "https://www.youtube.com/@RickAstleyYT",
      "2009-10-25T06:57:33Z", "PT3M33S", 213, 12,
      "segment %u of the music video transcript", "true",
      "1234567890", "18000000", "2400000" },
    { "jNQXAC9IVRw", "Me at the zoo",
      "The first video on YouTube. While you wait for Part 2, listen to this great song.",
      "UC4QobU6STFB0P71PMvOGN5A", "jawed", "https://www.youtube.com/@jawed",
      "2005-04-24T03:31:52Z", "PT19S", 19, 12,
      "segment %u of the zoo video transcript", "false",
      "350000000", "17000000", "10000000" },
    /* UTF-8: "Café ☕ — tëst: a two-hour lecture" */
    { "LONGVIDEO01",
      "Caf\xc3\xa9 \xe2\x98\x95 \xe2\x80\x94 t\xc3\xabst: a two-hour lecture",
      "A long lecture used to exercise transcript pagination. "
      "Unicode: \xc3\xa9 \xe2\x98\x95.",
      "UCfakeChannel0000000000a", "Fake Lectures",
      "https://www.youtube.com/@fakelectures",
      "2021-03-14T15:09:26Z", "PT2H", 7200, 1500,
      "segment %u of the long video, about resilience patterns", "true",
      "4242", "42", "7" },
};
#define N_VIDEOS (sizeof videos / sizeof videos[0])

static const struct fake_video *find_video(const char *id, size_t len)
{
    for (size_t i = 0; i < N_VIDEOS; i++) {
        if (strlen(videos[i].id) == len && memcmp(videos[i].id, id, len) == 0)
            return &videos[i];
    }
    return NULL;
}

static const char *arg(const struct fake_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- YouTube Data API v3 ------------------------------------------------------ */

enum { PART_SNIPPET = 1, PART_DETAILS = 2, PART_STATS = 4 };

/* Returns the part mask, or 0 with the first unknown part copied to bad. */
static unsigned parse_parts(const char *s, char *bad, size_t badsz)
{
    static const struct { const char *name; unsigned bit; } known[] = {
        { "snippet", PART_SNIPPET }, { "contentDetails", PART_DETAILS },
        { "statistics", PART_STATS },
    };
    unsigned mask = 0;

    while (*s != '\0') {
        size_t n = strcspn(s, ","), k;

        for (k = 0; k < sizeof known / sizeof known[0]; k++) {
            if (strlen(known[k].name) == n && memcmp(known[k].name, s, n) == 0)
                break;
        }
        if (k == sizeof known / sizeof known[0]) {
            snprintf(bad, badsz, "%.*s", (int)(n < 64 ? n : 64), s);
            return 0;
        }
        mask |= known[k].bit;
        s += n + (s[n] == ',');
    }
    return mask;
}

static json_t *thumb(const char *id, const char *file, int w, int h)
{
    return json_pack("{s:s+++, s:i, s:i}", "url", "https://i.ytimg.com/vi/", id, "/",
                     file, "width", w, "height", h);
}

static json_t *video_snippet(const struct fake_video *v)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:o, s:o, s:o}, s:s, s:s, s:s, "
                     "s:{s:s, s:s}, s:s}",
                     "publishedAt", v->published_at, "channelId", v->channel_id,
                     "title", v->title, "description", v->description, "thumbnails",
                     "default", thumb(v->id, "default.jpg", 120, 90),
                     "medium", thumb(v->id, "mqdefault.jpg", 320, 180),
                     "high", thumb(v->id, "hqdefault.jpg", 480, 360),
                     "channelTitle", v->channel_title, "categoryId", "10",
                     "liveBroadcastContent", "none",
                     "localized", "title", v->title, "description", v->description,
                     "defaultAudioLanguage", "en");
}

static json_t *video_item(const struct fake_video *v, unsigned parts)
{
    json_t *item = json_pack("{s:s, s:s+, s:s}", "kind", "youtube#video",
                             "etag", "fake-etag-", v->id, "id", v->id);

    int rc = 0;

    if (item == NULL)
        return NULL;
    if (parts & PART_SNIPPET)
        rc |= json_object_set_new(item, "snippet", video_snippet(v));
    if (parts & PART_DETAILS)
        rc |= json_object_set_new(item, "contentDetails",
            json_pack("{s:s, s:s, s:s, s:s, s:b, s:{}, s:s}", "duration", v->duration,
                      "dimension", "2d", "definition", "hd", "caption", v->caption,
                      "licensedContent", 1, "contentRating", "projection",
                      "rectangular"));
    if (parts & PART_STATS)
        rc |= json_object_set_new(item, "statistics",
            json_pack("{s:s, s:s, s:s, s:s}", "viewCount", v->views,
                      "likeCount", v->likes, "favoriteCount", "0",
                      "commentCount", v->comments));
    if (rc != 0) {
        json_decref(item);
        return NULL;
    }
    return item;
}

static json_t *video_list(const char *ids, unsigned parts)
{
    json_t *items = json_array();
    size_t n;

    while (items != NULL && *ids != '\0') {
        size_t len = strcspn(ids, ",");
        const struct fake_video *v = find_video(ids, len);

        if (v != NULL && json_array_append_new(items, video_item(v, parts)) != 0) {
            json_decref(items);
            items = NULL;
        }
        ids += len + (ids[len] == ',');
    }
    n = json_array_size(items);
    return json_pack("{s:s, s:s, s:o, s:{s:I, s:I}}", "kind", "youtube#videoListResponse",
                     "etag", "fake-etag-list", "items", items, "pageInfo",
                     "totalResults", (json_int_t)n, "resultsPerPage", (json_int_t)n);
}

static enum MHD_Result youtube_key_error(const struct fake_request *r, const char *key)
{
    static const char invalid[] = "API key not valid. Please pass a valid API key.";
    static const char missing[] = "The request is missing a valid API key.";
    json_t *j;

    /* The real API tells a missing key (403) from a wrong one (400). */
    if (key == NULL || *key == '\0')
        return fake_reply_json(r->conn, 403, fake_google_error(403, missing,
                                                               "forbidden", NULL));
    j = fake_google_error(400, invalid, "badRequest", NULL);
    if (j != NULL)
        json_object_set_new(json_object_get(j, "error"), "details",
            json_pack("[{s:s, s:s, s:s, s:{s:s}}]",
                      "@type", "type.googleapis.com/google.rpc.ErrorInfo",
                      "reason", "API_KEY_INVALID", "domain", "googleapis.com",
                      "metadata", "service", "youtube.googleapis.com"));
    return fake_reply_json(r->conn, 400, j);
}

static enum MHD_Result youtube_videos(const struct fake_request *r)
{
    const char *key = arg(r, "key"), *part = arg(r, "part"), *ids = arg(r, "id");
    char bad[80], msg[128];
    unsigned parts;

    if (r->cfg->require_key != NULL &&
        (key == NULL || strcmp(key, r->cfg->require_key) != 0))
        return youtube_key_error(r, key);
    if (part == NULL || *part == '\0')
        return fake_reply_json(r->conn, 400, fake_google_error(400,
                               "Required parameter: part", "required", "part"));
    parts = parse_parts(part, bad, sizeof bad);
    if (parts == 0) {
        fake_printable(bad, bad, sizeof bad);
        snprintf(msg, sizeof msg, "'%s'", bad);
        return fake_reply_json(r->conn, 400,
                               fake_google_error(400, msg, "unknownPart", "part"));
    }
    if (ids == NULL)
        return fake_reply_json(r->conn, 400, fake_google_error(400,
            "No filter selected. Expected one of: chart, id, myRating",
            "missingRequiredParameter", NULL));
    return fake_reply_json(r->conn, 200, video_list(ids, parts));
}

/* ---- oEmbed ------------------------------------------------------------------- */

static size_t id_len(const char *s)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789_-";
    return strspn(s, ok);
}

/* The value of v= in the query string q ("a=1&v=ID&t=3"), or NULL. */
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

/* Finds the video id in a YouTube URL; *len is 0 when there is none. */
static const char *url_video_id(const char *url, size_t *len)
{
    static const char *const hosts[] = { "www.youtube.com/", "youtube.com/",
                                         "m.youtube.com/" };
    static const char *const prefixes[] = { "shorts/", "embed/", "live/" };
    const char *p = strstr(url, "://"), *id = NULL;

    p = (p != NULL) ? p + 3 : url;
    *len = 0;
    if (strncmp(p, "youtu.be/", 9) == 0)
        id = p + 9;
    for (size_t i = 0; id == NULL && i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t h = strlen(hosts[i]);

        if (strncmp(p, hosts[i], h) != 0)
            continue;
        p += h;
        if (strncmp(p, "watch?", 6) == 0)
            id = query_v(p + 6);
        for (size_t k = 0; id == NULL && k < sizeof prefixes / sizeof prefixes[0]; k++) {
            if (strncmp(p, prefixes[k], strlen(prefixes[k])) == 0)
                id = p + strlen(prefixes[k]);
        }
        break;
    }
    if (id != NULL)
        *len = id_len(id);
    return id;
}

/* Escapes what an HTML attribute value must not contain raw. */
static void html_attr(const char *in, char *out, size_t outsz)
{
    size_t o = 0;

    for (; *in != '\0'; in++) {
        const char *rep = *in == '&' ? "&amp;" : *in == '"' ? "&quot;" :
                          *in == '<' ? "&lt;" : *in == '>' ? "&gt;" : NULL;
        size_t n = rep != NULL ? strlen(rep) : 1;

        if (o + n + 1 > outsz)
            break;
        memcpy(out + o, rep != NULL ? rep : in, n);
        o += n;
    }
    out[o] = '\0';
}

static json_t *oembed_json(const struct fake_video *v)
{
    char title[512], html[1024];

    html_attr(v->title, title, sizeof title);
    snprintf(html, sizeof html,
             "<iframe width=\"200\" height=\"113\" "
             "src=\"https://www.youtube.com/embed/%s?feature=oembed\" frameborder=\"0\" "
             "allow=\"accelerometer; autoplay; clipboard-write; encrypted-media; "
             "gyroscope; picture-in-picture; web-share\" "
             "referrerpolicy=\"strict-origin-when-cross-origin\" allowfullscreen "
             "title=\"%s\"></iframe>", v->id, title);
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:i, s:i, "
                     "s:s++, s:s}",
                     "title", v->title, "author_name", v->channel_title,
                     "author_url", v->author_url, "type", "video", "height", 113,
                     "width", 200, "version", "1.0", "provider_name", "YouTube",
                     "provider_url", "https://www.youtube.com/", "thumbnail_height", 360,
                     "thumbnail_width", 480, "thumbnail_url", "https://i.ytimg.com/vi/",
                     v->id, "/hqdefault.jpg", "html", html);
}

static enum MHD_Result oembed(const struct fake_request *r)
{
    const char *url = arg(r, "url"), *format = arg(r, "format"), *id;
    const struct fake_video *v = NULL;
    size_t len;

    if (url == NULL || *url == '\0')
        return fake_reply_text(r->conn, 400, "Bad Request");
    if (format != NULL && strcmp(format, "json") != 0)
        return fake_reply_text(r->conn, 501, "Not Implemented");
    id = url_video_id(url, &len);
    if (id != NULL && len > 0)
        v = find_video(id, len);
    if (v == NULL)
        return fake_reply_text(r->conn, 404, "Not Found");
    return fake_reply_json(r->conn, 200, oembed_json(v));
}

/* ---- transcripts ---------------------------------------------------------------- */

static json_t *transcript_json(const struct fake_video *v)
{
    /* Whole milliseconds, so every start and duration prints exactly. */
    unsigned step_ms = v->seconds * 1000u / v->segments;
    json_t *segs = json_array();
    char text[160];

    for (unsigned i = 0; segs != NULL && i < v->segments; i++) {
        snprintf(text, sizeof text, v->segment_fmt, i + 1);
        if (json_array_append_new(segs, json_pack("{s:f, s:f, s:s}",
                "start", (double)(i * step_ms) / 1000.0,
                "duration", (double)step_ms / 1000.0, "text", text)) != 0) {
            json_decref(segs);
            segs = NULL;
        }
    }
    return json_pack("{s:s, s:s, s:o}", "video_id", v->id, "language", "en",
                     "segments", segs);
}

static enum MHD_Result transcript_error(const struct fake_request *r, const char *id,
                                        const char *lang)
{
    char sid[96], slang[32];

    fake_printable(id, sid, sizeof sid);
    if (lang == NULL)
        return fake_reply_json(r->conn, 404, json_pack("{s:s+}", "error",
                               "no transcript for ", sid));
    fake_printable(lang, slang, sizeof slang);
    return fake_reply_json(r->conn, 404, json_pack("{s:s+++}", "error",
                           "no transcript for ", sid, " in language ", slang));
}

static enum MHD_Result transcript(const struct fake_request *r)
{
    const char *id = arg(r, "video_id"), *lang = arg(r, "lang");
    const struct fake_video *v;

    if (id == NULL || *id == '\0')
        return fake_reply_json(r->conn, 400,
                               json_pack("{s:s}", "error", "missing video_id"));
    v = find_video(id, strlen(id));
    if (v == NULL)
        return transcript_error(r, id, NULL);
    if (lang != NULL && strcmp(lang, "en") != 0)
        return transcript_error(r, id, lang);
    return fake_reply_json(r->conn, 200, transcript_json(v));
}

/* ---- chat completions ------------------------------------------------------------
 * POST /v1/chat/completions in OpenAI's format, non-streaming only.
 * With --chat-key the request needs "Authorization: Bearer KEY", else 401.
 * The body must be an object with "model" (non-empty string) and "messages" (a
 * non-empty array of {"role": system|developer|user|assistant|tool, "content":
 * string}); "stream" may be false; other keys are ignored. Anything else is a 400
 * in OpenAI's error shape whose "param" names the field.
 * The reply's content is "Echo: " + the first 200 characters of the last user
 * message or, when that message contains the word JSON, a JSON text
 * {"summary","key_points":[3],"topics":[2]} derived from it. Characters are Unicode
 * code points; prompt_tokens = characters of all contents / 4, completion_tokens =
 * characters of the content / 4. The id is chatcmpl-fake-N, N counting completions
 * since start or the last /_control/reset.
 */

#define CHAT_CREATED 1700000000
#define ECHO_CHARS 200
#define HEAD_CHARS 120
#define TOPIC_CHARS 40

struct chat_input {
    const char *model, *last_user;
    size_t last_user_len, prompt_chars;
};

struct chat_err {
    char message[256];
    char param[48];
    const char *code;
};

static size_t utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;

    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

/* Byte length of the first max_chars characters of s (never splits one). */
static size_t utf8_prefix(const char *s, size_t n, size_t max_chars)
{
    size_t chars = 0, i;

    for (i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;    /* a continuation byte belongs to the character before */
        if (chars == max_chars)
            break;
        chars++;
    }
    return i;
}

static bool chat_fail(struct chat_err *e, const char *param, const char *code,
                      const char *message)
{
    snprintf(e->message, sizeof e->message, "%s", message);
    snprintf(e->param, sizeof e->param, "%s", param != NULL ? param : "");
    e->code = code;
    return false;
}

static bool known_role(const char *role)
{
    static const char *const roles[] = { "system", "developer", "user", "assistant",
                                         "tool" };

    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(role, roles[i]) == 0)
            return true;
    }
    return false;
}

static bool check_message(json_t *m, size_t i, struct chat_input *in,
                          struct chat_err *e)
{
    json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
    char p[48], msg[128];
    size_t n;

    if (!json_is_string(role) || !known_role(json_string_value(role))) {
        snprintf(p, sizeof p, "messages.[%zu].role", i);
        snprintf(msg, sizeof msg, "Invalid '%s': expected one of system, developer, "
                 "user, assistant, tool.", p);
        return chat_fail(e, p, "invalid_value", msg);
    }
    if (!json_is_string(content)) {
        snprintf(p, sizeof p, "messages.[%zu].content", i);
        snprintf(msg, sizeof msg, "Invalid type for '%s': expected a string.", p);
        return chat_fail(e, p, "invalid_type", msg);
    }
    n = json_string_length(content);
    in->prompt_chars += utf8_chars(json_string_value(content), n);
    if (strcmp(json_string_value(role), "user") == 0) {
        in->last_user = json_string_value(content);
        in->last_user_len = n;
    }
    return true;
}

static bool check_messages(json_t *msgs, struct chat_input *in, struct chat_err *e)
{
    size_t i;
    json_t *m;

    if (msgs == NULL)
        return chat_fail(e, "messages", "missing_required_parameter",
                         "Missing required parameter: 'messages'.");
    if (!json_is_array(msgs))
        return chat_fail(e, "messages", "invalid_type",
                         "Invalid type for 'messages': expected an array of objects.");
    if (json_array_size(msgs) == 0)
        return chat_fail(e, "messages", "empty_array",
                         "Invalid 'messages': empty array. Expected an array with "
                         "minimum length 1, but got an empty array instead.");
    json_array_foreach(msgs, i, m) {
        if (!check_message(m, i, in, e))
            return false;
    }
    return true;
}

static bool chat_validate(json_t *root, struct chat_input *in, struct chat_err *e)
{
    json_t *model = json_object_get(root, "model"), *stream;

    memset(in, 0, sizeof *in);
    in->last_user = "";
    if (!json_is_object(root))
        return chat_fail(e, NULL, NULL, "We could not parse the JSON body of your "
                         "request. The OpenAI API expects a JSON payload.");
    if (!json_is_string(model) || json_string_length(model) == 0)
        return chat_fail(e, "model", NULL, "you must provide a model parameter");
    in->model = json_string_value(model);
    stream = json_object_get(root, "stream");
    if (stream != NULL && !json_is_boolean(stream))
        return chat_fail(e, "stream", "invalid_type",
                         "Invalid type for 'stream': expected a boolean.");
    if (json_is_true(stream))
        return chat_fail(e, "stream", NULL, "streaming not supported by the fake");
    return check_messages(json_object_get(root, "messages"), in, e);
}

static bool chat_authorized(const struct fake_request *r, enum MHD_Result *ret)
{
    const char *key = r->cfg->chat_key, *h;
    json_t *err;

    if (key == NULL)
        return true;
    h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL)
        err = fake_openai_error("You didn't provide an API key. You need to provide "
                                "your API key in an Authorization header using Bearer "
                                "auth (i.e. Authorization: Bearer YOUR_KEY).",
                                "invalid_request_error", NULL, NULL);
    else if (strncmp(h, "Bearer ", 7) != 0 || strcmp(h + 7, key) != 0)
        err = fake_openai_error("Incorrect API key provided.", "invalid_request_error",
                                NULL, "invalid_api_key");
    else
        return true;
    *ret = fake_reply_json(r->conn, 401, err);
    return false;
}

/* ---- the deterministic content ---- */

struct words {
    size_t count;
    const char *first, *head_end;
    size_t first_len;
    const char *top[2];
    size_t top_len[2];
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t trim_punct(const char *p, size_t len)
{
    while (len > 0 && strchr(".,;:!?\"'()[]{}", p[len - 1]) != NULL)
        len--;
    return len;
}

/* Keeps the two longest distinct words, the earliest winning ties. */
static void rank_word(struct words *w, const char *p, size_t len)
{
    if (len > w->top_len[0]) {
        w->top[1] = w->top[0];
        w->top_len[1] = w->top_len[0];
        w->top[0] = p;
        w->top_len[0] = len;
    } else if (len > w->top_len[1] &&
               !(len == w->top_len[0] && memcmp(p, w->top[0], len) == 0)) {
        w->top[1] = p;
        w->top_len[1] = len;
    }
}

static void scan_words(const char *s, size_t n, struct words *w)
{
    size_t i = 0;

    memset(w, 0, sizeof *w);
    w->first = w->head_end = s;
    while (i < n) {
        size_t start, len;

        while (i < n && is_space(s[i]))
            i++;
        if (i == n)
            break;
        start = i;
        while (i < n && !is_space(s[i]))
            i++;
        len = i - start;
        w->count++;
        if (w->count == 1) {
            w->first = s + start;
            w->first_len = utf8_prefix(s + start, trim_punct(s + start, len), TOPIC_CHARS);
        }
        if (w->count <= 8)
            w->head_end = s + i;
        rank_word(w, s + start, utf8_prefix(s + start, trim_punct(s + start, len),
                                            TOPIC_CHARS));
    }
}

/* Whether word occurs in s between non-alphanumeric ASCII (or the ends). */
static bool has_word(const char *s, size_t n, const char *word)
{
    size_t wl = strlen(word);
    const char *p = s, *end = s + n;

    while ((size_t)(end - p) >= wl) {
        const char *hit = memmem(p, (size_t)(end - p), word, wl);
        bool left, right;

        if (hit == NULL)
            return false;
        left = hit == s || !isalnum((unsigned char)hit[-1]);
        right = hit + wl == end || !isalnum((unsigned char)hit[wl]);
        if (left && right)
            return true;
        p = hit + 1;
    }
    return false;
}

static json_t *topic(const struct words *w, int i, const char *fallback)
{
    if (w->top_len[i] == 0)
        return json_string(fallback);
    return json_stringn(w->top[i], w->top_len[i]);
}

static json_t *json_mode_content(const char *s, size_t n)
{
    struct words w;
    char head[HEAD_CHARS * 4 + 1];
    size_t chars = utf8_chars(s, n), hl;
    json_t *obj;
    char *text;

    scan_words(s, n, &w);
    hl = utf8_prefix(w.first, (size_t)(w.head_end - w.first), HEAD_CHARS);
    for (size_t i = 0; i < hl; i++)
        head[i] = is_space(w.first[i]) || w.first[i] == '\0' ? ' ' : w.first[i];
    head[hl] = '\0';
    obj = json_pack("{s:o, s:[o, o, o], s:[o, o]}",
        "summary", json_sprintf("The input has %zu characters in %zu words and "
                                "begins: \"%s\"", chars, w.count, head),
        "key_points", json_sprintf("The input is %zu characters long.", chars),
        json_sprintf("It contains %zu words.", w.count),
        json_sprintf("The first word is \"%.*s\".", (int)w.first_len, w.first),
        "topics", topic(&w, 0, "general"), topic(&w, 1, "misc"));
    text = obj != NULL ? json_dumps(obj, FAKE_JSON_FLAGS) : NULL;
    json_decref(obj);
    obj = text != NULL ? json_string(text) : NULL;
    free(text);
    return obj;
}

static json_t *echo_content(const char *s, size_t n)
{
    size_t len = utf8_prefix(s, n, ECHO_CHARS);
    char *buf = malloc(len + 7);
    json_t *j;

    if (buf == NULL)
        return NULL;
    memcpy(buf, "Echo: ", 6);
    memcpy(buf + 6, s, len);
    j = json_stringn(buf, len + 6);
    free(buf);
    return j;
}

static json_t *chat_response(const struct chat_input *in)
{
    json_t *content = has_word(in->last_user, in->last_user_len, "JSON")
        ? json_mode_content(in->last_user, in->last_user_len)
        : echo_content(in->last_user, in->last_user_len);
    json_int_t p = (json_int_t)(in->prompt_chars / 4), c;
    char id[32];

    if (content == NULL)
        return NULL;
    c = (json_int_t)(utf8_chars(json_string_value(content),
                                json_string_length(content)) / 4);
    snprintf(id, sizeof id, "chatcmpl-fake-%lu", fake_next_completion_id());
    return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:o}, s:s}], "
                     "s:{s:I, s:I, s:I}}",
                     "id", id, "object", "chat.completion",
                     "created", (json_int_t)CHAT_CREATED, "model", in->model,
                     "choices", "index", 0, "message", "role", "assistant",
                     "content", content, "finish_reason", "stop",
                     "usage", "prompt_tokens", p, "completion_tokens", c,
                     "total_tokens", p + c);
}

static enum MHD_Result chat_completions(const struct fake_request *r)
{
    struct chat_input in;
    struct chat_err e;
    enum MHD_Result ret;
    json_t *root;

    if (!chat_authorized(r, &ret))
        return ret;
    root = json_loadb(r->body, r->body_len, 0, NULL);
    if (!chat_validate(root, &in, &e))
        ret = fake_reply_json(r->conn, 400, fake_openai_error(e.message,
                              "invalid_request_error",
                              e.param[0] != '\0' ? e.param : NULL, e.code));
    else
        ret = fake_reply_json(r->conn, 200, chat_response(&in));
    json_decref(root);
    return ret;
}

/* ---- dispatch ---------------------------------------------------------------------- */

static enum MHD_Result healthz(const struct fake_request *r)
{
    return fake_reply_text(r->conn, 200, "ok");
}

struct route {
    const char *path, *method;
    enum MHD_Result (*fn)(const struct fake_request *r);
};

static const struct route routes[] = {
    { "/youtube/v3/videos", "GET", youtube_videos },
    { "/oembed", "GET", oembed },
    { "/transcript", "GET", transcript },
    { "/v1/chat/completions", "POST", chat_completions },
    { "/healthz", "GET", healthz },
};

/* By path prefix, as a host-wide outage would hit every path of the service. */
enum fake_service fake_route_service(const char *url)
{
    if (strncmp(url, "/youtube/", 9) == 0)
        return FAKE_SVC_YOUTUBE;
    if (strcmp(url, "/oembed") == 0)
        return FAKE_SVC_OEMBED;
    if (strcmp(url, "/transcript") == 0)
        return FAKE_SVC_TRANSCRIPT;
    if (strncmp(url, "/v1/", 4) == 0)
        return FAKE_SVC_CHAT;
    return FAKE_SVC_OTHER;
}

enum MHD_Result fake_route_dispatch(const struct fake_request *r)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(r->url, routes[i].path) != 0)
            continue;
        if (strcmp(r->method, routes[i].method) != 0)
            return fake_reply_method(r->conn, routes[i].method);
        return routes[i].fn(r);
    }
    return fake_reply_text(r->conn, 404, "Not Found");
}
