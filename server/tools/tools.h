/* The production tools and what they share.  Each file under tools/ registers its
 * tools with tools_register_*(); video.c composes the others through the
 * functions below rather than through MCP. */
#ifndef MCP_TOOLS_H
#define MCP_TOOLS_H

#include "app.h"
#include "upstream.h"

#include <jansson.h>
#include <stddef.h>

/* All production tools: video_metadata, video_transcript, ai_analyze,
 * video_analyze, service_status.  0 or -1 with err. */
int tools_register(struct app *a, char *err, size_t errlen);

int tools_register_youtube(struct app *a, char *err, size_t errlen); /* youtube.c */
int tools_register_ai(struct app *a, char *err, size_t errlen);      /* ai.c */
int tools_register_video(struct app *a, char *err, size_t errlen);   /* video.c */
int tools_register_introspect(struct app *a, char *err, size_t errlen); /* introspect.c */

/* The 11-character id of a YouTube URL (watch?v=, youtu.be/, /shorts/,
 * /embed/, /live/, m. and music. hosts) or of a bare id.  0, or -1 with
 * err saying what was not recognised. */
int youtube_video_id(const char *url_or_id, char id[12], char *err, size_t errlen);

/* Metadata as the video_metadata tool's structuredContent:
 *   {"id","title","channel","channel_id"?,"duration_seconds"?,"views"?,
 *    "likes"?,"published_at"?,"description"?,"thumbnails":{...},
 *    "source":"youtube_data_api"|"oembed","missing":["duration_seconds",..],
 *    "cached":bool}
 * 0 with *out, or -1 with res->message (res->stage etc. for degradation). */
int youtube_metadata(struct app *a, struct mcp_call *c, const char *id, json_t **out,
                     struct upstream_result *res);

/* One page of the transcript:
 *   {"id","language","segments":[{"start","duration","text"}],
 *    "offset","count","total","next_offset"?,"text"}
 * offset/limit in segments (limit 0: the tool's default). */
int youtube_transcript(struct app *a, struct mcp_call *c, const char *id, const char *lang,
                       size_t offset, size_t limit, json_t **out, struct upstream_result *res);

/* Ask the configured chat-completions model: instruction as the system
 * message, text (cut to max_input_chars, *truncated set) as the user's.
 * want_json: ask for a JSON object and parse it into *json (NULL when the
 * model did not comply: *answer still holds the text).  0 or -1 with res. */
int ai_complete(struct app *a, struct mcp_call *c, const char *instruction, const char *text,
                int want_json, char **answer, json_t **json, int *truncated,
                struct upstream_result *res);

#endif
