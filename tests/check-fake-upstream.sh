#!/bin/sh
# Exercises tests/fake_upstream/fake-upstream, the fake upstream HTTP server of the
# mcp-server tests, with the curl command-line tool: every route, every fault mode,
# the /_control API and the process lifecycle (port file, SIGTERM, SIGINT, stdin EOF).
#
# Environment: top_builddir (set by make check). FAKE_UPSTREAM_WRAPPER runs the
# fixture under a tool, e.g. "valgrind -q --error-exitcode=99 --leak-check=full";
# the fixture's exit statuses are asserted, so the tool's failures show.
# FAKE_UPSTREAM_START_TIMEOUT (seconds, default 5) caps every wait for an event.
# The fixtures' stderr is shown after a failure, or always with FAKE_UPSTREAM_VERBOSE.
# Exit: 0 all passed, 1 a check failed, 77 fixture or curl missing.
set -u

: "${top_builddir:=.}"
bin=$top_builddir/tests/fake_upstream/fake-upstream
if [ ! -x "$bin" ]; then
    echo "SKIP: $bin is not built"
    exit 77
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "SKIP: the curl command is not installed"
    exit 77
fi
# -w %{exitcode} needs curl 7.75 (parallel -Z came in 7.66).
# shellcheck disable=SC2046 # the two numbers are meant to split
set -- $(curl --version | sed -n '1s/^curl \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
if [ "${1:-0}" -lt 7 ] || { [ "${1:-0}" -eq 7 ] && [ "${2:-0}" -lt 75 ]; }; then
    echo "SKIP: curl 7.75 or later is needed"
    exit 77
fi
wrap=${FAKE_UPSTREAM_WRAPPER:-}
cap=${FAKE_UPSTREAM_START_TIMEOUT:-5}

failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-fake-upstream.XXXXXX") || exit 1
tags=""

# Stops every fixture still running (TERM, then KILL after the cap) and removes
# the temporary directory. Runs on every exit, so no fixture outlives the test.
cleanup() {
    exec 3>&- 4>&-
    if [ "$failed" != 0 ] || [ -n "${FAKE_UPSTREAM_VERBOSE:-}" ]; then
        for t in $tags; do sed "s/^/# $t: /" "$tmp/$t.log" 2>/dev/null; done
    fi
    for t in $tags; do
        [ -f "$tmp/$t.rc" ] || kill "$(cat "$tmp/$t.pid" 2>/dev/null)" 2>/dev/null
    done
    for t in $tags; do
        wait_file "$tmp/$t.rc" || kill -9 "$(cat "$tmp/$t.pid" 2>/dev/null)" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
ok() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$1"; }
not_ok() {
    n=$((n + 1))
    printf 'not ok %d - %s\n' "$n" "$1"
    failed=1
    printf '#   http=%s curl=%s body: %.400s\n' "${code:-}" "${crc:-}" "${body:-}"
}
# check DESCRIPTION COMMAND...: one test point, passing when COMMAND succeeds.
check() {
    d=$1
    shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# Waits for FILE to exist and be non-empty: polling for an event, bounded by $cap.
wait_file() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ "$i" -gt $((cap * 20)) ] && return 1
        sleep 0.05
    done
}

# launch TAG STDIN ARGS...: starts a fixture in the background with STDIN as its
# standard input; its pid goes to $tmp/TAG.pid, its exit status to $tmp/TAG.rc.
launch() {
    t=$1 in=$2
    shift 2
    tags="$tags $t"
    (
        $wrap "$bin" --port-file "$tmp/$t.port" "$@" <"$in" 2>"$tmp/$t.log" &
        echo $! >"$tmp/$t.pid"
        wait $!
        echo $? >"$tmp/$t.rc"
    ) 3>&- 4>&- &
}

# Requests go out in batches: q queues one, run sends the queue in order through
# ONE curl process (one connection, kept alive, as a client library would), and
# res NAME loads a result. A curl process costs more than the request itself, most
# of all on a loaded machine, and matching uses only shell built-ins for the same
# reason.
#
# q NAME METHOD PATH [CURL OPTIONS...]: queues a request (no ' in any argument).
args='' queued=0
q() {
    name=$1 m=$2 p=$3
    shift 3
    : >"$tmp/r/$name.b"    # no stale body when this one has none
    : >"$tmp/r/$name.h"
    [ "$queued" = 0 ] || args="$args --next"
    queued=$((queued + 1))
    args="$args -sS --max-time 10 -X $m -o '$tmp/r/$name.b' -D '$tmp/r/$name.h'"
    args="$args -w '$name %{http_code} %{time_total} %{exitcode}\\n'"
    for a in "$@" "$base$p"; do
        case $a in *\'*) echo "q: a quote in $a" >&2; exit 1 ;; esac
        args="$args '$a'"
    done
}
qpost() { name=$1 p=$2 j=$3; shift 3; q "$name" POST "$p" -H 'Content-Type: application/json' -d "$j" "$@"; }
qfault() { qpost "$1" /_control/fault "$2"; }
qchat() { qpost "$1" /v1/chat/completions "$2" -H "$bearer"; }
bearer='Authorization: Bearer chat-secret'

run() {
    [ "$queued" = 0 ] && return
    eval "curl $args" >"$tmp/w" 2>"$tmp/curl.err"
    args='' queued=0
    # shellcheck disable=SC2034 # rc, rt and re are read through eval
    while read -r rn rc rt re; do
        eval "code_$rn=\$rc time_$rn=\$rt crc_$rn=\$re"
    done <"$tmp/w"
}

code='' body='' elapsed=0 crc=''
# res NAME: sets $code (000 without a response), $body, $elapsed (seconds), $crc
# (curl's exit status for it), $bfile and $hfile (the body and headers files).
res() {
    eval "code=\${code_$1:-none} elapsed=\${time_$1:-0} crc=\${crc_$1:-none}"
    bfile=$tmp/r/$1.b hfile=$tmp/r/$1.h body=''
    [ -f "$bfile" ] && IFS= read -r body <"$bfile"
    return 0
}
# One request at once, for the checks that wait for the fixture.
http() { q now "$@"; run; res now; }

is() { [ "$code" = "$1" ] && [ "$body" = "$2" ]; }
code_is() { [ "$code" = "$1" ]; }
crc_is() { [ "$crc" = "$1" ]; }
is_number() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
has() {
    [ "$code" = "$1" ] || return 1
    case $body in *"$2"*) return 0 ;; esac
    return 1
}
header() { tr -d '\r' <"$hfile" | grep -qixF -- "$1"; }
no_retry_after() { ! tr -d '\r' <"$hfile" | grep -qi '^Retry-After:'; }
count() { grep -o -- "$1" "$bfile" | wc -l | tr -d ' '; }
at_least() { awk -v t="$elapsed" -v min="$1" 'BEGIN { exit !(t >= min) }'; }
stats_has() { http GET /_control/stats; has 200 "$1"; }
exited() { wait_file "$tmp/$1.rc" && [ "$(cat "$tmp/$1.rc")" = "$2" ]; }

# ---- start ---------------------------------------------------------------------
case $tmp in *\'*) echo "the temporary directory name holds a quote" >&2; exit 1 ;; esac
mkdir "$tmp/r" && mkfifo "$tmp/main.in" || exit 1
launch main "$tmp/main.in" --exit-on-stdin-eof --require-key yt-key --chat-key chat-secret
exec 3>"$tmp/main.in"
check "the port file appears once the fixture listens" wait_file "$tmp/main.port"
port=$(cat "$tmp/main.port" 2>/dev/null)
check "the port file holds a port number" is_number "$port"
base=http://127.0.0.1:$port

http GET /healthz
check "GET /healthz answers 200 ok" is 200 "ok"

# ---- YouTube Data API v3 -----------------------------------------------------------
V=/youtube/v3/videos
all=part=snippet,contentDetails,statistics
q yt_nokey GET "$V?$all&id=dQw4w9WgXcQ"
q yt_badkey GET "$V?$all&id=dQw4w9WgXcQ&key=wrong"
q yt_one GET "$V?$all&id=dQw4w9WgXcQ&key=yt-key"
q yt_again GET "$V?$all&id=dQw4w9WgXcQ&key=yt-key"
q yt_many GET "$V?$all&id=jNQXAC9IVRw,LONGVIDEO01,nope&key=yt-key"
q yt_unknown GET "$V?$all&id=nope&key=yt-key"
q yt_stats GET "$V?part=statistics&id=jNQXAC9IVRw&key=yt-key"
q yt_nopart GET "$V?id=jNQXAC9IVRw&key=yt-key"
q yt_badpart GET "$V?part=snippet,bogus&id=jNQXAC9IVRw&key=yt-key"
q yt_noid GET "$V?part=snippet&key=yt-key"
run
res yt_nokey
check "videos.list without a key: 403 in Google's error shape" is 403 \
    '{"error":{"code":403,"message":"The request is missing a valid API key.","errors":[{"message":"The request is missing a valid API key.","domain":"global","reason":"forbidden"}],"status":"PERMISSION_DENIED"}}'
res yt_badkey
check "videos.list with a wrong key: 400 API key not valid" has 400 \
    '{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","errors":[{"message":"API key not valid. Please pass a valid API key.","domain":"global","reason":"badRequest"}],"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"'
res yt_one
check "videos.list of a known id: a videoListResponse with one item" \
    has 200 '{"kind":"youtube#videoListResponse","etag":"fake-etag-list","items":[{"kind":"youtube#video","etag":"fake-etag-dQw4w9WgXcQ","id":"dQw4w9WgXcQ","snippet":{"publishedAt":"2009-10-25T06:57:33Z","channelId":"UCuAXFkgsw1L7xaCfnd5JJOw","title":"Rick Astley - Never Gonna Give You Up (Official Music Video)"'
check "the item carries the three thumbnails" has 200 \
    '"thumbnails":{"default":{"url":"https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg","width":120,"height":90},"medium":{"url":"https://i.ytimg.com/vi/dQw4w9WgXcQ/mqdefault.jpg","width":320,"height":180},"high":{"url":"https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg","width":480,"height":360}},"channelTitle":"Rick Astley"'
check "the item carries contentDetails, statistics and pageInfo" has 200 \
    '"contentDetails":{"duration":"PT3M33S","dimension":"2d","definition":"hd","caption":"true","licensedContent":true,"contentRating":{},"projection":"rectangular"},"statistics":{"viewCount":"1234567890","likeCount":"18000000","favoriteCount":"0","commentCount":"2400000"}}],"pageInfo":{"totalResults":1,"resultsPerPage":1}}'
video1=$body
res yt_again
check "videos.list answers byte-for-byte the same twice" [ "$body" = "$video1" ]
res yt_many
check "several ids: the known ones in order, unknown ones left out" has 200 \
    '"pageInfo":{"totalResults":2,"resultsPerPage":2}}'
check "the very short video lasts PT19S" has 200 '"duration":"PT19S"'
check "the long video lasts PT2H and has a unicode title" has 200 \
    '"title":"Café ☕ — tëst: a two-hour lecture"'
res yt_unknown
check "an unknown id: 200 with no items, as the real API answers" is 200 \
    '{"kind":"youtube#videoListResponse","etag":"fake-etag-list","items":[],"pageInfo":{"totalResults":0,"resultsPerPage":0}}'
res yt_stats
check "part=statistics returns only the statistics" is 200 \
    '{"kind":"youtube#videoListResponse","etag":"fake-etag-list","items":[{"kind":"youtube#video","etag":"fake-etag-jNQXAC9IVRw","id":"jNQXAC9IVRw","statistics":{"viewCount":"350000000","likeCount":"17000000","favoriteCount":"0","commentCount":"10000000"}}],"pageInfo":{"totalResults":1,"resultsPerPage":1}}'
res yt_nopart
check "no part: 400 Required parameter: part" has 400 \
    '"errors":[{"message":"Required parameter: part","domain":"global","reason":"required","location":"part","locationType":"parameter"}]'
res yt_badpart
check "an unknown part: 400 unknownPart naming it" has 400 \
    '{"error":{"code":400,"message":"'"'bogus'"'","errors":[{"message":"'"'bogus'"'","domain":"global","reason":"unknownPart"'
res yt_noid
check "no id: 400 missingRequiredParameter" has 400 '"reason":"missingRequiredParameter"'

# ---- oEmbed --------------------------------------------------------------------------
O() { name=$1 u=$2; shift 2; q "$name" GET /oembed --get --data-urlencode "url=$u" "$@"; }
O oe_watch 'https://www.youtube.com/watch?v=jNQXAC9IVRw' -d format=json
O oe_short 'https://youtu.be/dQw4w9WgXcQ?t=42' -d format=json
O oe_later 'https://m.youtube.com/watch?feature=share&v=LONGVIDEO01'
O oe_shorts 'https://www.youtube.com/shorts/jNQXAC9IVRw'
O oe_unknown 'https://www.youtube.com/watch?v=nope0000000'
O oe_foreign 'https://example.com/watch?v=jNQXAC9IVRw'
q oe_nourl GET '/oembed?format=json'
O oe_xml 'https://youtu.be/jNQXAC9IVRw' -d format=xml
run
res oe_watch
check "oEmbed of a watch URL: the provider's JSON" is 200 \
    '{"title":"Me at the zoo","author_name":"jawed","author_url":"https://www.youtube.com/@jawed","type":"video","height":113,"width":200,"version":"1.0","provider_name":"YouTube","provider_url":"https://www.youtube.com/","thumbnail_height":360,"thumbnail_width":480,"thumbnail_url":"https://i.ytimg.com/vi/jNQXAC9IVRw/hqdefault.jpg","html":"<iframe width=\"200\" height=\"113\" src=\"https://www.youtube.com/embed/jNQXAC9IVRw?feature=oembed\" frameborder=\"0\" allow=\"accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture; web-share\" referrerpolicy=\"strict-origin-when-cross-origin\" allowfullscreen title=\"Me at the zoo\"></iframe>"}'
res oe_short
check "oEmbed of a youtu.be URL" has 200 '{"title":"Rick Astley - Never Gonna Give You Up (Official Music Video)","author_name":"Rick Astley"'
res oe_later
check "oEmbed finds v= after other parameters; format defaults to json" \
    has 200 '"title":"Café ☕ — tëst: a two-hour lecture"'
res oe_shorts
check "oEmbed of a shorts URL" has 200 '"title":"Me at the zoo"'
res oe_unknown
check "oEmbed of an unknown video: 404 Not Found" is 404 "Not Found"
res oe_foreign
check "oEmbed of a URL that is not YouTube's: 404 Not Found" is 404 "Not Found"
res oe_nourl
check "oEmbed without url: 400 Bad Request" is 400 "Bad Request"
res oe_xml
check "oEmbed in another format: 501 (oEmbed spec 2.3.4)" is 501 "Not Implemented"

# ---- transcripts -----------------------------------------------------------------------
q tr_short GET '/transcript?video_id=jNQXAC9IVRw'
q tr_long GET '/transcript?video_id=LONGVIDEO01&lang=en'
q tr_fr GET '/transcript?video_id=dQw4w9WgXcQ&lang=fr'
q tr_unknown GET '/transcript?video_id=nope'
q tr_noid GET '/transcript'
run
res tr_short
check "a short video's transcript has a dozen segments" [ "$(count '"start":')" = 12 ]
check "segments carry start, duration and text" has 200 \
    '{"video_id":"jNQXAC9IVRw","language":"en","segments":[{"start":0.0,"duration":1.583,"text":"segment 1 of the zoo video transcript"},{"start":1.583,"duration":1.583,'
res tr_long
check "the long video's transcript has 1500 segments" [ "$(count '"start":')" = 1500 ]
check "the long video's last segment ends at 2 h" has 200 \
    '{"start":7195.2,"duration":4.8,"text":"segment 1500 of the long video, about resilience patterns"}]}'
res tr_fr
check "a language other than en: 404" is 404 '{"error":"no transcript for dQw4w9WgXcQ in language fr"}'
res tr_unknown
check "an unknown video: 404 no transcript" is 404 '{"error":"no transcript for nope"}'
res tr_noid
check "no video_id: 400" is 400 '{"error":"missing video_id"}'

# ---- chat completions ------------------------------------------------------------------
C=/v1/chat/completions
hello='{"model":"fake-model","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello to the tests"}]}'
long=$(printf '%0300d' 0)
head -c 1100000 /dev/zero | tr '\0' 'a' >"$tmp/big"
q ch_reset POST /_control/reset
qpost ch_nokey $C "$hello"
qpost ch_badkey $C "$hello" -H 'Authorization: Bearer nope'
qchat ch_hello "$hello"
qchat ch_hello2 "$hello"
qchat ch_last '{"model":"m","stream":false,"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"x"},{"role":"user","content":"☕☕☕☕ last"}]}'
qchat ch_long '{"model":"m","messages":[{"role":"user","content":"'"$long"'"}]}'
qchat ch_json '{"model":"m","messages":[{"role":"user","content":"Summarise as JSON: retries, breakers and caches keep flaky upstreams usable."}]}'
qchat ch_jsonify '{"model":"m","messages":[{"role":"user","content":"JSONify nothing"}]}'
qchat ch_notjson '{"model":"m","messages":'
qchat ch_nomodel '{"messages":[{"role":"user","content":"hi"}]}'
qchat ch_empty '{"model":"m","messages":[]}'
qchat ch_content '{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":7}]}'
qchat ch_role '{"model":"m","messages":[{"role":"robot","content":"a"}]}'
qchat ch_stream '{"model":"m","stream":true,"messages":[{"role":"user","content":"a"}]}'
q ch_get GET $C -H "$bearer"
q ch_big POST $C -H "$bearer" --data-binary "@$tmp/big"
q ch_chunked POST $C -H "$bearer" -H 'Transfer-Encoding: chunked' --data-binary "@$tmp/big"
q ot_nowhere GET /nowhere
q ot_posthealth POST /healthz -d x
run
res ch_nokey
check "chat without a key: 401 in OpenAI's error shape" is 401 \
    '{"error":{"message":"You didn'"'"'t provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).","type":"invalid_request_error","param":null,"code":null}}'
res ch_badkey
check "chat with a wrong key: 401 invalid_api_key" is 401 \
    '{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}'
res ch_hello
check "chat echoes the last user message; usage counts characters / 4" is 200 \
    '{"id":"chatcmpl-fake-1","object":"chat.completion","created":1700000000,"model":"fake-model","choices":[{"index":0,"message":{"role":"assistant","content":"Echo: Say hello to the tests"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":7,"total_tokens":14}}'
res ch_hello2
check "completion ids count up" has 200 '{"id":"chatcmpl-fake-2",'
res ch_last
check "the last user message wins; characters, not bytes, are counted" has 200 \
    '"content":"Echo: ☕☕☕☕ last"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}'
res ch_long
check "the echo stops after 200 characters" has 200 "\"content\":\"Echo: $(printf '%0200d' 0)\"}"
res ch_json
check "a message with the word JSON gets a JSON summary" has 200 \
    '"content":"{\"summary\":\"The input has 76 characters in 11 words and begins: \\\"Summarise as JSON: retries, breakers and caches keep\\\"\",\"key_points\":[\"The input is 76 characters long.\",\"It contains 11 words.\",\"The first word is \\\"Summarise\\\".\"],\"topics\":[\"Summarise\",\"upstreams\"]}"'
res ch_jsonify
check "JSON must be a whole word" has 200 '"content":"Echo: JSONify nothing"'
res ch_notjson
check "a body that is not JSON: 400" has 400 '"type":"invalid_request_error","param":null,"code":null}}'
res ch_nomodel
check "no model: 400 naming model" is 400 \
    '{"error":{"message":"you must provide a model parameter","type":"invalid_request_error","param":"model","code":null}}'
res ch_empty
check "empty messages: 400 naming messages" has 400 '"param":"messages","code":"empty_array"}}'
res ch_content
check "a message without string content: 400 naming it" has 400 '"param":"messages.[1].content","code":"invalid_type"}}'
res ch_role
check "an unknown role: 400 naming it" has 400 '"param":"messages.[0].role"'
res ch_stream
check "stream true: 400 streaming not supported" is 400 \
    '{"error":{"message":"streaming not supported by the fake","type":"invalid_request_error","param":"stream","code":null}}'
res ch_get
check "GET on the chat endpoint: 405" code_is 405
check "the 405 names the allowed method" header 'Allow: POST'
res ch_big
check "a body over 1 MiB: 413" has 413 '{"error":"request body exceeds 1 MiB"}'
res ch_chunked
check "a chunked body over 1 MiB: 413" has 413 '{"error":"request body exceeds 1 MiB"}'
res ot_nowhere
check "an unknown path: 404" is 404 "Not Found"
res ot_posthealth
check "POST /healthz: 405" is 405 "Method Not Allowed"

# ---- statistics ---------------------------------------------------------------------------
q st_reset POST /_control/reset
q st_zero GET /_control/stats
q st_1 GET "$V?part=snippet&id=x&key=yt-key"
q st_2 GET "$V?part=snippet&id=x"
q st_3 GET '/oembed?url=x'
q st_4 GET '/transcript?video_id=x'
q st_5 GET /healthz
q st_6 GET /nowhere
qchat st_7 "$hello"
q st_after GET /_control/stats
q st_8 GET '/transcript?video_id=x'
q st_last GET /_control/stats
run
res st_reset
check "reset answers ok" is 200 '{"ok":true}'
res st_zero
check "after reset every counter is zero and last is null" is 200 \
    '{"requests":{"youtube":0,"oembed":0,"transcript":0,"chat":0,"other":0},"faults_applied":0,"last":null,"faults":{"youtube":{"mode":"ok","remaining":0},"oembed":{"mode":"ok","remaining":0},"transcript":{"mode":"ok","remaining":0},"chat":{"mode":"ok","remaining":0}}}'
res st_after
check "every upstream request is counted once, control requests never" has 200 \
    '{"requests":{"youtube":2,"oembed":1,"transcript":1,"chat":1,"other":2},"faults_applied":0,"last":{"service":"chat","path":"/v1/chat/completions","authorization_present":true}'
res st_last
check "last names the service, the path and whether Authorization came" has 200 \
    '"last":{"service":"transcript","path":"/transcript","authorization_present":false}'

# ---- faults ----------------------------------------------------------------------------------
yt="$V?part=snippet&id=dQw4w9WgXcQ&key=yt-key"
q fa_reset POST /_control/reset
qfault fa_set '{"service":"youtube","mode":"status","status":503,"count":2}'
q fa_stats1 GET /_control/stats
q fa_yt1 GET "$yt"
q fa_yt2 GET "$yt"
q fa_yt3 GET "$yt"
q fa_stats2 GET /_control/stats
qfault fa_set2 '{"service":"chat","mode":"status","status":500,"retry_after":"Wed, 21 Oct 2015 07:28:00 GMT"}'
qchat fa_ch1 "$hello"
qchat fa_ch2 "$hello"
qfault fa_clear '{"service":"chat","mode":"ok"}'
qchat fa_ch3 "$hello"
qfault fa_set3 '{"service":"chat","mode":"ratelimit","count":1}'
qchat fa_rl1 "$hello"
qfault fa_set4 '{"service":"transcript","mode":"ratelimit","retry_after":"7","count":1}'
q fa_rl2 GET '/transcript?video_id=jNQXAC9IVRw'
qfault fa_set5 '{"service":"oembed","mode":"ratelimit","retry_after":"","count":1}'
q fa_rl3 GET '/oembed?url=x'
qfault fa_set6 '{"service":"oembed","mode":"status","status":200,"body":"{\"title\": truncated","count":1}'
q fa_body GET '/oembed?url=https://youtu.be/jNQXAC9IVRw'
qfault fa_set7 '{"service":"transcript","mode":"latency","latency_ms":300,"count":1}'
q fa_slow GET '/transcript?video_id=jNQXAC9IVRw'
qfault fa_set8 '{"service":"youtube","mode":"status","status":502,"latency_ms":200,"count":1}'
q fa_slow502 GET "$yt"
run
res fa_set
check "a status fault is accepted" is 200 '{"ok":true,"service":"youtube","mode":"status"}'
res fa_stats1
check "stats show the fault and its remaining count" has 200 '"youtube":{"mode":"status","remaining":2}'
res fa_yt1
check "status fault: 503 in Google's error shape" is 503 \
    '{"error":{"code":503,"message":"injected fault: HTTP 503 Service Unavailable","errors":[{"message":"injected fault: HTTP 503 Service Unavailable","domain":"global","reason":"backendError"}],"status":"UNAVAILABLE"}}'
check "status fault without retry_after sends no Retry-After" no_retry_after
res fa_yt2
check "the fault repeats for its count" code_is 503
res fa_yt3
check "after count requests the service is healthy again" has 200 '"id":"dQw4w9WgXcQ"'
res fa_stats2
check "the three requests and two faults are counted exactly" has 200 \
    '{"requests":{"youtube":3,"oembed":0,"transcript":0,"chat":0,"other":0},"faults_applied":2,'
check "the spent fault reverts to ok" has 200 '"youtube":{"mode":"ok","remaining":0}'
res fa_ch1
check "status fault on chat: OpenAI's error shape" is 500 \
    '{"error":{"message":"injected fault: HTTP 500 Internal Server Error","type":"server_error","param":null,"code":null}}'
check "Retry-After is sent verbatim, an HTTP date included" header 'Retry-After: Wed, 21 Oct 2015 07:28:00 GMT'
res fa_ch2
check "count 0 keeps the fault until changed" code_is 500
res fa_ch3
check "mode ok clears the fault" has 200 '"object":"chat.completion"'
res fa_rl1
check "ratelimit: 429, OpenAI's rate_limit_exceeded" is 429 \
    '{"error":{"message":"injected fault: HTTP 429 Too Many Requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}'
check "ratelimit sends Retry-After: 1 by default" header 'Retry-After: 1'
res fa_rl2
check "ratelimit with retry_after 7" header 'Retry-After: 7'
check "transcript errors keep the provider's {error} shape" is 429 '{"error":"injected fault: HTTP 429 Too Many Requests"}'
res fa_rl3
check 'retry_after "" still answers 429' code_is 429
check '... but sends no Retry-After' no_retry_after
res fa_body
check "body overrides the answer verbatim (a malformed 200)" is 200 '{"title": truncated'
res fa_slow
check "latency delays the answer by at least latency_ms" at_least 0.3
check "latency then answers normally" has 200 '"video_id":"jNQXAC9IVRw"'
res fa_slow502
check "latency_ms combines with status: a slow 502" at_least 0.2
check "... with the status asked for" code_is 502

q cx_reset POST /_control/reset
qfault cx_set '{"service":"chat","mode":"reset","count":1}'
run
# First of its batch, so on a fresh connection: libcurl silently repeats a request
# whose REUSED connection dies before any answer, which would hide the reset here
# (and counts twice upstream; mcp-server's tests should expect that).
qchat cx_reset1 "$hello"
qchat cx_after "$hello"
q cx_stats GET /_control/stats
qfault cx_hang '{"service":"oembed","mode":"hang","count":1}'
q cx_hung GET '/oembed?url=https://youtu.be/jNQXAC9IVRw' --max-time 1
q cx_unhung GET '/oembed?url=https://youtu.be/jNQXAC9IVRw'
qfault cx_all '{"service":"*","mode":"status","status":500,"count":1}'
q cx_a GET "$V?part=snippet&id=x&key=yt-key"
q cx_b GET '/oembed?url=https://youtu.be/jNQXAC9IVRw'
q cx_c GET '/transcript?video_id=jNQXAC9IVRw'
qchat cx_d "$hello"
q cx_e GET /healthz
run
res cx_reset1
no_answer() { [ "$code" = 000 ] && { [ "$crc" = 56 ] || [ "$crc" = 52 ]; }; }
os=$(uname)
rst() { [ "$crc" = 56 ] || [ "$os" != Linux ]; }
check "reset: the connection ends without a response (curl 52 or 56)" no_answer
check "reset on Linux is a TCP RST (curl 56)" rst
res cx_after
check "after a reset with count 1 chat answers again" has 200 '"object":"chat.completion"'
res cx_stats
check "the reset request was counted" has 200 '"chat":2,"other":0},"faults_applied":1,'
res cx_hung
check "hang: no answer until the client gives up (curl 28)" crc_is 28
res cx_unhung
check "after the hang with count 1 oEmbed answers again" has 200 '"title":"Me at the zoo"'
res cx_all
check '"*" sets the fault on every service' is 200 '{"ok":true,"service":"*","mode":"status"}'
res cx_a; a=$code; res cx_b; b=$code; res cx_c; c=$code; res cx_d; d=$code; res cx_e
check '"*" hits each service once with its own count, /healthz never' \
    [ "$a $b $c $d $code" = "500 500 500 500 200" ]

# Twenty requests at once: the count is used up exactly, every request counted once.
http POST /_control/reset
http POST /_control/fault -d '{"service":"transcript","mode":"status","status":503,"count":5}'
urls=
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    urls="$urls $base/transcript?video_id=jNQXAC9IVRw&n=$i"
done
# shellcheck disable=SC2086 # urls is a list of words
curl -s -Z --parallel-immediate --parallel-max 20 --max-time 10 \
    -w '\ncode=%{http_code}\n' $urls >"$tmp/parallel" 2>"$tmp/curl.err"
check "20 concurrent requests with count 5: exactly 5 faulted" \
    [ "$(grep -c '^code=503$' "$tmp/parallel")" = 5 ]
check "... and exactly 15 served" [ "$(grep -c '^code=200$' "$tmp/parallel")" = 15 ]
check "... and all 20 counted, 5 faults applied" stats_has \
    '{"requests":{"youtube":0,"oembed":0,"transcript":20,"chat":0,"other":0},"faults_applied":5,'

# ---- /_control/fault validation ---------------------------------------------------------
k=0
while IFS='|' read -r field json; do
    k=$((k + 1))
    qfault "bad$k" "$json"
done <<'END'
service|{"service":"nope","mode":"status","status":500}
service|{"mode":"ok"}
mode|{"service":"chat","mode":"explode"}
latency_ms|{"service":"chat","mode":"latency"}
latency_ms|{"service":"chat","mode":"latency","latency_ms":60001}
status|{"service":"chat","mode":"status"}
status|{"service":"chat","mode":"status","status":600}
status|{"service":"chat","mode":"status","status":"503"}
status|{"service":"chat","mode":"hang","status":503}
count|{"service":"chat","mode":"ratelimit","count":-1}
count|{"service":"chat","mode":"ok","count":2}
retry_after|{"service":"chat","mode":"ratelimit","retry_after":"1\r\nX-Evil: 1"}
retry_after|{"service":"chat","mode":"ratelimit","retry_after":2}
retry_after|{"service":"chat","mode":"hang","retry_after":"2"}
body|{"service":"chat","mode":"reset","body":"x"}
colour|{"service":"chat","mode":"status","status":500,"colour":"red"}
body|[1,2]
body|not json
END
q va_stats GET /_control/stats
q va_get GET /_control/fault
q va_unknown GET /_control/nothing
run
k=0
while IFS='|' read -r field json; do
    k=$((k + 1))
    res "bad$k"
    check "fault $json is refused naming $field" has 400 "{\"error\":\"$field:"
done <<'END'
service|{"service":"nope","mode":"status","status":500}
service|{"mode":"ok"}
mode|{"service":"chat","mode":"explode"}
latency_ms|{"service":"chat","mode":"latency"}
latency_ms|{"service":"chat","mode":"latency","latency_ms":60001}
status|{"service":"chat","mode":"status"}
status|{"service":"chat","mode":"status","status":600}
status|{"service":"chat","mode":"status","status":"503"}
status|{"service":"chat","mode":"hang","status":503}
count|{"service":"chat","mode":"ratelimit","count":-1}
count|{"service":"chat","mode":"ok","count":2}
retry_after|{"service":"chat","mode":"ratelimit","retry_after":"1\r\nX-Evil: 1"}
retry_after|{"service":"chat","mode":"ratelimit","retry_after":2}
retry_after|{"service":"chat","mode":"hang","retry_after":"2"}
body|{"service":"chat","mode":"reset","body":"x"}
colour|{"service":"chat","mode":"status","status":500,"colour":"red"}
body|[1,2]
body|not json
END
res va_stats
check "refused faults change nothing" has 200 \
    '"faults":{"youtube":{"mode":"ok","remaining":0},"oembed":{"mode":"ok","remaining":0},"transcript":{"mode":"ok","remaining":0},"chat":{"mode":"ok","remaining":0}}'
res va_get
check "GET /_control/fault: 405" code_is 405
res va_unknown
check "an unknown control path: 404" is 404 "Not Found"
# ---- lifecycle --------------------------------------------------------------------------------
# A hang in progress must not delay the stop: the fixture wakes every waiting request.
http POST /_control/reset
http POST /_control/fault -d '{"service":"chat","mode":"hang"}'
curl -s -o /dev/null --max-time 20 -H "$bearer" -d "$hello" "$base$C" 3>&- &
hung=$!
i=0
until stats_has '"chat":1,' || [ "$i" -gt $((cap * 20)) ]; do i=$((i + 1)); sleep 0.05; done
http GET /healthz
check "a hanging request blocks only its own connection" is 200 "ok"
exec 3>&-
check "EOF on stdin stops the fixture, exit status 0" exited main 0
check "the port file is removed on a clean stop" [ ! -e "$tmp/main.port" ]
wait "$hung"
st=$?
closed_early() { [ "$st" != 0 ] && [ "$st" != 28 ]; }
check "the hanging client sees its connection close" closed_early

launch term /dev/null
check "another fixture starts while the first has stopped" wait_file "$tmp/term.port"
kill -TERM "$(cat "$tmp/term.pid")"
check "SIGTERM stops the fixture, exit status 0" exited term 0
check "... and removes its port file" [ ! -e "$tmp/term.port" ]

launch int /dev/null
wait_file "$tmp/int.port"
kill -INT "$(cat "$tmp/int.pid")"
check "SIGINT stops the fixture, exit status 0" exited int 0

mkfifo "$tmp/eof.in"
launch eof "$tmp/eof.in" --exit-on-stdin-eof
exec 4>"$tmp/eof.in"
wait_file "$tmp/eof.port"
launch busy /dev/null --port "$(cat "$tmp/eof.port" 2>/dev/null)"
check "a port in use: exit status 1" exited busy 1
exec 4>&-
check "a fixture whose test dies (stdin closed) exits too" exited eof 0

"$bin" --bind 0.0.0.0 </dev/null 2>"$tmp/err"
st=$?
check "--bind 0.0.0.0 is refused (exit 1)" [ "$st" = 1 ]
check "... saying that only loopback is allowed" grep -q loopback "$tmp/err"
"$bin" --bind 192.168.1.1 </dev/null 2>/dev/null
st=$?
check "--bind to a non-loopback address is refused" [ "$st" = 1 ]
"$bin" --port 70000 </dev/null 2>/dev/null
st=$?
check "--port 70000: usage error (exit 2)" [ "$st" = 2 ]
"$bin" --frobnicate </dev/null 2>/dev/null
st=$?
check "an unknown option: usage error (exit 2)" [ "$st" = 2 ]
"$bin" --help >"$tmp/help"
st=$?
check "--help prints the usage, exit 0" [ "$st" = 0 ]
usage_complete() {
    for o in --bind --port --port-file --exit-on-stdin-eof --require-key --chat-key; do
        grep -q -- "$o" "$tmp/help" || return 1
    done
}
check "... naming every option" usage_complete

echo "1..$n"
exit "$failed"
