/* The secrets store: a key file and a secrets file (format in secrets.h).
 *
 * A store holds one immutable snapshot: the key ring and the secrets file
 * parsed in place (entries point into its buffer).  Tokens are decrypted
 * only by get.  Every change (set, delete, rotate) takes the writers'
 * flock, re-reads both files (another process may have written them),
 * builds the new file text, writes it atomically and swaps in the new
 * snapshot.  Readers (open, reload) take no lock: they read the key file,
 * then the secrets file, and retry if the key file was replaced meanwhile,
 * so the pair they keep existed together on disk.
 *
 * Locks: wmu serialises this handle's writers (the flock serialises
 * processes); mu guards the snapshot for get/list/swap and is never held
 * during file I/O, so a get does not wait for a writer's fsync.  Order:
 * wmu, then mu. */
#include "config.h"

#include "secrets_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HEADER RESIL__SF_HEADER
/* Attempts to read a consistent key/secrets pair while writers race. */
#define LOAD_ATTEMPTS 8

typedef resil__sf_entry entry;

typedef struct snapshot {
    resil_fernet *f;
    char *buf; /* the secrets file, NULs written in place */
    size_t buflen;
    entry *e;
    size_t n;
} snapshot;

typedef resil__sf_keyring keyring;

struct resil_secrets {
    pthread_mutex_t wmu;
    pthread_mutex_t mu;
    char *path; /* one block with key_path */
    char *key_path;
    snapshot snap;
};

static bool cname_ok(const char *name)
{
    return name && resil__sf_name_ok(name, strnlen(name, RESIL__SF_NAME_MAX + 1));
}

static int ring_new(const char *const *keys, size_t n, resil_fernet **f, resil_error *err)
{
    int rc = resil_fernet_new(keys, n, f, NULL);
    if (rc != 0)
        resil__secret_err(err, rc, 0, "cannot load the keys: %s", resil_strerror(rc));
    return rc;
}

static void snapshot_free(snapshot *sn)
{
    resil_fernet_free(sn->f);
    resil_secret_free(sn->buf, sn->buflen + (sn->buf != NULL));
    resil__free(sn->e);
    memset(sn, 0, sizeof *sn);
}

/* Take buf (len bytes + NUL) and e (room for resil__sf_count_lines(buf) entries)
 * into sn, and parse. */
static int snapshot_adopt(snapshot *sn, char *buf, size_t len, entry *e, size_t cap,
                          const char *path, resil_error *err)
{
    sn->buf = buf;
    sn->buflen = len;
    sn->e = e;
    return resil__sf_parse_secrets(buf, len, path, e, cap, &sn->n, err);
}

static int snapshot_parse(snapshot *sn, char *buf, size_t len, const char *path,
                          resil_error *err)
{
    size_t cap = resil__sf_count_lines(buf, len);
    entry *e = resil__calloc(cap, sizeof *e);
    if (!e) {
        resil_secret_free(buf, len + 1);
        resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory reading secrets file %s",
                          path);
        return RESIL_ENOMEM;
    }
    return snapshot_adopt(sn, buf, len, e, cap, path, err);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static const entry *find(const snapshot *sn, const char *name)
{
    entry key = {.name = name};
    if (sn->n == 0)
        return NULL; /* bsearch's base must not be NULL, even for 0 entries */
    return bsearch(&key, sn->e, sn->n, sizeof *sn->e, cmp_name);
}

/* Exchange the store's snapshot with *sn (the caller frees *sn after). */
static void swap_in(resil_secrets *s, snapshot *sn)
{
    pthread_mutex_lock(&s->mu);
    snapshot old = s->snap;
    s->snap = *sn;
    pthread_mutex_unlock(&s->mu);
    *sn = old;
}

/* ---- loading ----------------------------------------------------------- */

static int load_once(const resil_secrets *s, snapshot *sn, keyring *kr, bool *stable,
                     resil_error *err)
{
    keyring k;
    resil__sf_id id, now;
    memset(sn, 0, sizeof *sn);
    int rc = resil__sf_read_keys(s->key_path, &k, &id, err);
    if (rc != 0)
        return rc;
    rc = ring_new(k.keys, k.n, &sn->f, err);
    if (rc != 0)
        goto out_keys;
    char *buf;
    size_t len;
    rc = resil__sf_read(s->path, "secrets file", &buf, &len, NULL, err);
    if (rc == 0)
        rc = snapshot_parse(sn, buf, len, s->path, err);
    if (rc != 0)
        goto out_snap;
    /* The key file unchanged since we read it: the pair existed together. */
    *stable = resil__sf_stat_id(s->key_path, &now) == 0 && resil__sf_id_eq(&id, &now);
    if (kr)
        *kr = k;
    else
        resil__sf_keyring_free(&k);
    return 0;
out_snap:
    snapshot_free(sn);
out_keys:
    resil__sf_keyring_free(&k);
    return rc;
}

/* Both files as one consistent snapshot (and the key lines when kr is not
 * NULL).  A writer replacing the key file between our two reads makes us
 * read again; after LOAD_ATTEMPTS the last read is kept. */
static int load(const resil_secrets *s, snapshot *sn, keyring *kr, resil_error *err)
{
    for (int i = 1;; i++) {
        bool stable = false;
        int rc = load_once(s, sn, kr, &stable, err);
        if (rc != 0 || stable || i == LOAD_ATTEMPTS)
            return rc;
        snapshot_free(sn);
        if (kr)
            resil__sf_keyring_free(kr);
    }
}

/* ---- open / close ------------------------------------------------------ */

static bool missing(const char *path)
{
    struct stat st;
    return lstat(path, &st) != 0 && errno == ENOENT;
}

/* A new key would make every existing token unreadable: only an empty
 * store may get one. */
static int refuse_if_entries(const resil_secrets *s, resil_error *err)
{
    char *buf;
    size_t len;
    snapshot sn = {0};
    int rc = resil__sf_read(s->path, "secrets file", &buf, &len, NULL, err);
    if (rc == 0)
        rc = snapshot_parse(&sn, buf, len, s->path, err);
    if (rc == 0 && sn.n > 0) {
        resil__secret_err(err, RESIL_ENOENT, 0,
                          "key file %s does not exist but secrets file %s holds %zu "
                          "secrets only its key can decrypt: restore the key file",
                          s->key_path, s->path, sn.n);
        rc = RESIL_ENOENT;
    }
    snapshot_free(&sn);
    return rc;
}

static int create_key(const resil_secrets *s, resil_error *err)
{
    char text[RESIL_FERNET_KEY_B64_LEN + 1];
    int rc = resil_fernet_keygen(text);
    if (rc != 0) {
        resil__secret_err(err, rc, 0, "cannot generate a key: %s", resil_strerror(rc));
        return rc;
    }
    text[RESIL_FERNET_KEY_B64_LEN] = '\n';
    rc = resil__sf_write(s->key_path, "key file", text, sizeof text, err);
    resil_secret_wipe(text, sizeof text);
    return rc;
}

/* Under the writers' lock, so two processes creating the same store agree
 * on one key. */
static int create_missing(const resil_secrets *s, resil_error *err)
{
    if (!missing(s->key_path) && !missing(s->path))
        return 0;
    int lk;
    int rc = resil__sf_lock(s->path, &lk, err);
    if (rc != 0)
        return rc;
    bool need_key = missing(s->key_path), need_secrets = missing(s->path);
    if (need_key && !need_secrets)
        rc = refuse_if_entries(s, err);
    if (rc == 0 && need_key)
        rc = create_key(s, err);
    if (rc == 0 && need_secrets)
        rc = resil__sf_write(s->path, "secrets file", HEADER "\n", sizeof HEADER, err);
    resil__sf_unlock(lk);
    return rc;
}

static resil_secrets *store_new(const resil_secrets_opts *o)
{
    size_t pl = strlen(o->path) + 1, kl = strlen(o->key_path) + 1;
    resil_secrets *s = resil__calloc(1, sizeof *s);
    char *paths = resil__malloc(pl + kl);
    if (!s || !paths)
        goto out_free;
    if (pthread_mutex_init(&s->wmu, NULL) != 0)
        goto out_free;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        goto out_wmu;
    s->path = paths;
    s->key_path = paths + pl;
    memcpy(s->path, o->path, pl);
    memcpy(s->key_path, o->key_path, kl);
    return s;
out_wmu:
    pthread_mutex_destroy(&s->wmu);
out_free:
    resil__free(paths);
    resil__free(s);
    return NULL;
}

void resil_secrets_opts_init(resil_secrets_opts *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

int resil_secrets_open(const resil_secrets_opts *o, resil_secrets **out, resil_error *err)
{
    resil__secret_err_clear(err);
    if (out)
        *out = NULL;
    if (!o || !out || !o->path || !o->path[0] || !o->key_path || !o->key_path[0] ||
        strcmp(o->path, o->key_path) == 0)
        return RESIL_EINVAL;
#ifndef RESIL_HAVE_OPENSSL
    resil__secret_err(err, RESIL_ENOTSUP, 0, "libresil was built without OpenSSL");
    return RESIL_ENOTSUP;
#endif
    resil_secrets *s = store_new(o);
    if (!s) {
        resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory opening %s", o->path);
        return RESIL_ENOMEM;
    }
    int rc = o->create ? create_missing(s, err) : 0;
    if (rc == 0)
        rc = load(s, &s->snap, NULL, err);
    if (rc != 0) {
        resil_secrets_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void resil_secrets_close(resil_secrets *s)
{
    if (!s)
        return;
    snapshot_free(&s->snap);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->wmu);
    resil__free(s->path);
    resil__free(s);
}

int resil_secrets_reload(resil_secrets *s, resil_error *err)
{
    resil__secret_err_clear(err);
    if (!s)
        return RESIL_EINVAL;
    snapshot fresh;
    /* wmu: a reload must not swap an older snapshot over a writer's. */
    pthread_mutex_lock(&s->wmu);
    int rc = load(s, &fresh, NULL, err);
    if (rc == 0) {
        swap_in(s, &fresh);
        snapshot_free(&fresh);
    }
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

static int bad_name(resil_error *err)
{
    resil__secret_err(
        err, RESIL_EINVAL, 0,
        "invalid secret name (want 1..128 characters of A-Z a-z 0-9 _ . -)");
    return RESIL_EINVAL;
}

int resil_secrets_get(resil_secrets *s, const char *name, char **value, size_t *len,
                      resil_error *err)
{
    resil__secret_err_clear(err);
    if (value)
        *value = NULL;
    if (len)
        *len = 0;
    if (!s || !value || !len)
        return RESIL_EINVAL;
    if (!cname_ok(name))
        return bad_name(err);
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    int rc;
    pthread_mutex_lock(&s->mu);
    const entry *e = find(&s->snap, name);
    if (!e) {
        rc = RESIL_ENOENT;
        resil__secret_err(err, rc, 0, "no secret named %s in %s", name, s->path);
    } else {
        rc = resil_fernet_decrypt(s->snap.f, e->token, e->toklen, 0, &pt, &ptlen);
        if (rc != 0)
            resil__secret_err(err, rc, e->line,
                              "secret %s in %s (line %d) does not "
                              "decrypt: %s",
                              name, s->path, e->line, resil_strerror(rc));
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == 0) {
        *value = (char *)pt;
        *len = ptlen;
    }
    return rc;
}

int resil_secrets_list(resil_secrets *s, char ***out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!s || !out || !n)
        return RESIL_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    size_t cnt = s->snap.n, total = cnt * sizeof(char *);
    if (cnt == 0)
        goto out_unlock;
    for (size_t i = 0; i < cnt; i++)
        total += strlen(s->snap.e[i].name) + 1;
    char **arr = resil__malloc(total);
    if (!arr) {
        rc = RESIL_ENOMEM;
        goto out_unlock;
    }
    /* The pointers, then the names they point to, in one block. */
    char *p = (char *)(arr + cnt);
    for (size_t i = 0; i < cnt; i++) {
        size_t l = strlen(s->snap.e[i].name) + 1;
        memcpy(p, s->snap.e[i].name, l);
        arr[i] = p;
        p += l;
    }
    *out = arr;
    *n = cnt;
out_unlock:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- writing ----------------------------------------------------------- */

static char *put(char *p, const char *s, size_t n, char end)
{
    memcpy(p, s, n);
    p[n] = end;
    return p + n + 1;
}

/* The secrets file text of sn with NAME set to tok, or removed when tok is
 * NULL.  Entries stay sorted. */
static char *serialize(const snapshot *sn, const char *name, const char *tok,
                       size_t toklen, size_t *len)
{
    size_t nl = strlen(name), total = sizeof HEADER;
    for (size_t i = 0; i < sn->n; i++) {
        if (strcmp(sn->e[i].name, name) != 0)
            total += strlen(sn->e[i].name) + 1 + sn->e[i].toklen + 1;
    }
    if (tok)
        total += nl + 1 + toklen + 1;
    char *buf = resil__malloc(total + 1);
    if (!buf)
        return NULL;
    char *p = put(buf, HEADER, sizeof HEADER - 1, '\n');
    bool placed = tok == NULL;
    for (size_t i = 0; i < sn->n; i++) {
        const entry *e = &sn->e[i];
        int c = strcmp(e->name, name);
        if (!placed && c > 0) {
            p = put(put(p, name, nl, ' '), tok, toklen, '\n');
            placed = true;
        }
        if (c != 0)
            p = put(put(p, e->name, strlen(e->name), ' '), e->token, e->toklen, '\n');
    }
    if (!placed)
        p = put(put(p, name, nl, ' '), tok, toklen, '\n');
    *p = '\0';
    *len = (size_t)(p - buf);
    return buf;
}

/* Write text (len bytes, NUL after) as the secrets file, then make it the
 * store's snapshot with ring f (taken on success).  Everything that can
 * run out of memory runs before the write. */
static int write_secrets(resil_secrets *s, char *text, size_t len, resil_fernet **f,
                         resil_error *err)
{
    size_t cap = resil__sf_count_lines(text, len);
    entry *e = resil__calloc(cap, sizeof *e);
    if (!e) {
        resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory writing %s", s->path);
        resil__free(text);
        return RESIL_ENOMEM;
    }
    int rc = resil__sf_write(s->path, "secrets file", text, len, err);
    snapshot next = {0};
    if (rc == 0) {
        rc = snapshot_adopt(&next, text, len, e, cap, s->path, err);
    } else {
        resil__free(e);
        resil__free(text);
    }
    if (rc != 0) {
        snapshot_free(&next);
        return rc;
    }
    next.f = *f;
    *f = NULL;
    swap_in(s, &next);
    snapshot_free(&next);
    return 0;
}

/* Set (tok not NULL) or delete NAME on the fresh snapshot and write it. */
static int commit(resil_secrets *s, snapshot *fresh, const char *name, const char *tok,
                  size_t toklen, resil_error *err)
{
    size_t len;
    char *text = serialize(fresh, name, tok, toklen, &len);
    if (!text) {
        resil__secret_err(err, RESIL_ENOMEM, 0, "out of memory writing %s", s->path);
        return RESIL_ENOMEM;
    }
    return write_secrets(s, text, len, &fresh->f, err);
}

/* Lock, re-read, change, write, unlock: value NULL deletes. */
static int change(resil_secrets *s, const char *name, const void *value, size_t len,
                  resil_error *err)
{
    int lk;
    snapshot fresh = {0};
    pthread_mutex_lock(&s->wmu);
    int rc = resil__sf_lock(s->path, &lk, err);
    if (rc != 0)
        goto out_unlock;
    rc = load(s, &fresh, NULL, err);
    if (rc != 0)
        goto out_flock;
    if (value) {
        char *tok = NULL;
        size_t toklen = 0;
        rc = resil_fernet_encrypt(fresh.f, value, len, &tok, &toklen);
        if (rc != 0)
            resil__secret_err(err, rc, 0, "cannot encrypt secret %s: %s", name,
                              resil_strerror(rc));
        else
            rc = commit(s, &fresh, name, tok, toklen, err);
        resil__free(tok);
    } else if (!find(&fresh, name)) {
        rc = RESIL_ENOENT;
        resil__secret_err(err, rc, 0, "no secret named %s in %s", name, s->path);
    } else {
        rc = commit(s, &fresh, name, NULL, 0, err);
    }
    if (rc != 0)
        swap_in(s, &fresh); /* what we read is newer than what we had */
    snapshot_free(&fresh);
out_flock:
    resil__sf_unlock(lk);
out_unlock:
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

int resil_secrets_set(resil_secrets *s, const char *name, const void *value, size_t len,
                      resil_error *err)
{
    resil__secret_err_clear(err);
    if (!s || (!value && len > 0))
        return RESIL_EINVAL;
    if (!cname_ok(name))
        return bad_name(err);
    if (len > RESIL_FERNET_MAX_PLAINTEXT) {
        resil__secret_err(err, RESIL_ERANGE, 0, "secret %s is longer than %u bytes", name,
                          RESIL_FERNET_MAX_PLAINTEXT);
        return RESIL_ERANGE;
    }
    return change(s, name, value ? value : "", len, err);
}

int resil_secrets_delete(resil_secrets *s, const char *name, resil_error *err)
{
    resil__secret_err_clear(err);
    if (!s)
        return RESIL_EINVAL;
    if (!cname_ok(name))
        return bad_name(err);
    return change(s, name, NULL, 0, err);
}

/* ---- rotation ---------------------------------------------------------- */

/* Everything a rotation writes, prepared before the first write so that a
 * bad entry or a failed allocation changes nothing. */
typedef struct rotation {
    snapshot old;                           /* both files as they are, under the lock */
    keyring kr;                             /* the old key file's keys */
    char key[RESIL_FERNET_KEY_B64_LEN + 1]; /* the new key */
    const char *ring[RESIL_FERNET_MAX_KEYS];
    size_t nring;
    resil_fernet *both; /* the new key first, then the old ones */
    resil_fernet *only; /* the new key alone */
    char *keys_text;    /* step 1's key file */
    size_t keys_len;
    char *text; /* step 2's secrets file */
    size_t len;
    entry *e; /* room to parse text after writing it */
    size_t cap;
} rotation;

static void rotation_free(rotation *r)
{
    snapshot_free(&r->old);
    resil__sf_keyring_free(&r->kr);
    resil_secret_wipe(r->key, sizeof r->key);
    resil_fernet_free(r->both);
    resil_fernet_free(r->only);
    resil_secret_free(r->keys_text, r->keys_len);
    resil__free(r->text);
    resil__free(r->e);
}

/* ring = the new key, then the old ones without it; and both rings. */
static int make_rings(rotation *r, const char *path, resil_error *err)
{
    r->ring[r->nring++] = r->key;
    for (size_t i = 0; i < r->kr.n; i++) {
        if (strcmp(r->kr.keys[i], r->key) == 0)
            continue;
        if (r->nring == RESIL_FERNET_MAX_KEYS) {
            resil__secret_err(err, RESIL_ERANGE, 0,
                              "key file %s already holds %d keys, the most a ring can "
                              "hold: remove the keys no secret uses, then rotate",
                              path, RESIL_FERNET_MAX_KEYS);
            return RESIL_ERANGE;
        }
        r->ring[r->nring++] = r->kr.keys[i];
    }
    int rc = ring_new(r->ring, r->nring, &r->both, err);
    if (rc == 0)
        rc = ring_new(r->ring, 1, &r->only, err);
    return rc;
}

static int make_keys_text(rotation *r)
{
    r->keys_len = r->nring * (RESIL_FERNET_KEY_B64_LEN + 1);
    r->keys_text = resil__malloc(r->keys_len);
    if (!r->keys_text)
        return RESIL_ENOMEM;
    char *p = r->keys_text;
    for (size_t i = 0; i < r->nring; i++)
        p = put(p, r->ring[i], RESIL_FERNET_KEY_B64_LEN, '\n');
    return 0;
}

/* Re-encrypt every entry under the new key (timestamps kept), as the
 * secrets file text. */
static int make_secrets_text(rotation *r, const char *path, resil_error *err)
{
    char **tok = resil__calloc(r->old.n ? r->old.n : 1, sizeof *tok);
    size_t *tl = resil__calloc(r->old.n ? r->old.n : 1, sizeof *tl);
    size_t total = sizeof HEADER;
    int rc = tok && tl ? 0 : RESIL_ENOMEM;
    for (size_t i = 0; rc == 0 && i < r->old.n; i++) {
        const entry *e = &r->old.e[i];
        rc = resil_fernet_rotate(r->both, e->token, e->toklen, &tok[i], &tl[i]);
        if (rc != 0)
            resil__secret_err(err, rc, e->line,
                              "secret %s in %s (line %d) does not decrypt with any key: "
                              "%s; nothing was changed",
                              e->name, path, e->line, resil_strerror(rc));
        else
            total += strlen(e->name) + 1 + tl[i] + 1;
    }
    if (rc == 0) {
        r->text = resil__malloc(total + 1);
        rc = r->text ? 0 : RESIL_ENOMEM;
    }
    if (rc == 0) {
        char *p = put(r->text, HEADER, sizeof HEADER - 1, '\n');
        for (size_t i = 0; i < r->old.n; i++)
            p = put(put(p, r->old.e[i].name, strlen(r->old.e[i].name), ' '), tok[i],
                    tl[i], '\n');
        *p = '\0';
        r->len = (size_t)(p - r->text);
    }
    for (size_t i = 0; tok && i < r->old.n; i++)
        resil__free(tok[i]);
    resil__free(tok);
    resil__free(tl);
    return rc;
}

static int rotate_prepare(resil_secrets *s, const char *new_key, rotation *r,
                          resil_error *err)
{
    int rc = load(s, &r->old, &r->kr, err);
    if (rc != 0)
        return rc;
    if (new_key) {
        memcpy(r->key, new_key, RESIL_FERNET_KEY_B64_LEN);
    } else {
        rc = resil_fernet_keygen(r->key);
        if (rc != 0) {
            resil__secret_err(err, rc, 0, "cannot generate a key: %s",
                              resil_strerror(rc));
            return rc;
        }
    }
    r->key[RESIL_FERNET_KEY_B64_LEN] = '\0';
    rc = make_rings(r, s->key_path, err);
    if (rc == 0)
        rc = make_secrets_text(r, s->path, err);
    if (rc == 0)
        rc = make_keys_text(r);
    if (rc == 0) {
        r->cap = resil__sf_count_lines(r->text, r->len);
        r->e = resil__calloc(r->cap, sizeof *r->e);
        rc = r->e ? 0 : RESIL_ENOMEM;
    }
    if (rc == RESIL_ENOMEM)
        resil__secret_err(err, rc, 0, "out of memory rotating %s", s->path);
    return rc;
}

/* The snapshot matching the files after `done` steps: before step 2 the
 * old entries, after it the new; until step 3 the ring with both keys. */
static void rotate_install(resil_secrets *s, rotation *r, int done)
{
    if (done == 0)
        return;
    snapshot next = {0};
    if (done >= 2) {
        resil_error perr;
        /* our own text: it parses (a failure would be a bug; keep the old) */
        if (snapshot_adopt(&next, r->text, r->len, r->e, r->cap, s->path, &perr) != 0) {
            next = (snapshot){0};
            done = 1;
        } else {
            r->text = NULL;
            r->e = NULL;
        }
    }
    if (done < 2) {
        next = r->old;
        r->old = (snapshot){0};
        resil_fernet_free(next.f);
    }
    next.f = done == 3 ? r->only : r->both;
    if (done == 3)
        r->only = NULL;
    else
        r->both = NULL;
    swap_in(s, &next);
    snapshot_free(&next);
}

/* The three steps of secrets.h; each file state along the way decrypts
 * every entry: [new, old...] + old tokens, [new, old...] + new tokens,
 * [new] + new tokens. */
static int rotate_write(resil_secrets *s, rotation *r, resil_error *err)
{
    int done = 0;
    int rc = resil__sf_write(s->key_path, "key file", r->keys_text, r->keys_len, err);
    if (rc == 0) {
        done = 1;
        rc = resil__sf_write(s->path, "secrets file", r->text, r->len, err);
    }
    if (rc == 0) {
        done = 2;
        /* the new key's line, first in step 1's text */
        rc = resil__sf_write(s->key_path, "key file", r->keys_text,
                             RESIL_FERNET_KEY_B64_LEN + 1, err);
    }
    if (rc == 0)
        done = 3;
    rotate_install(s, r, done);
    return rc;
}

int resil_secrets_rotate(resil_secrets *s, const char *new_key_b64, resil_error *err)
{
    resil__secret_err_clear(err);
    if (!s)
        return RESIL_EINVAL;
    if (new_key_b64 &&
        !resil__sf_key_ok(new_key_b64,
                          strnlen(new_key_b64, RESIL_FERNET_KEY_B64_LEN + 1))) {
        resil__secret_err(err, RESIL_EINVAL, 0,
                          "the new key is not a Fernet key (want 44 base64url characters "
                          "encoding 32 bytes)");
        return RESIL_EINVAL;
    }
    int lk;
    rotation r = {0};
    pthread_mutex_lock(&s->wmu);
    int rc = resil__sf_lock(s->path, &lk, err);
    if (rc != 0)
        goto out_unlock;
    rc = rotate_prepare(s, new_key_b64, &r, err);
    if (rc == 0)
        rc = rotate_write(s, &r, err);
    rotation_free(&r);
    resil__sf_unlock(lk);
out_unlock:
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/* ---- lookup ------------------------------------------------------------ */

int resil_secrets_lookup(resil_secrets *s, const char *name, const char *env_name,
                         const resil_secret_policy *p, char **value, size_t *len,
                         const char **source, resil_error *err)
{
    resil__secret_err_clear(err);
    if (value)
        *value = NULL;
    if (len)
        *len = 0;
    if (source)
        *source = NULL;
    if (!value || !len || (s && !name) || (!s && !env_name))
        return RESIL_EINVAL;
    if (s) {
        int rc = resil_secrets_get(s, name, value, len, err);
        if (rc == 0 && source)
            *source = "store";
        if (rc != RESIL_ENOENT || !env_name)
            return rc;
    }
    int rc = resil_secret_from_env(env_name, p, value, len, err);
    if (rc == 0 && source)
        *source = "env";
    if (rc == RESIL_ENOENT && s)
        resil__secret_err(err, rc, 0,
                          "secret %s is neither in %s nor in environment variable %s",
                          name, s->path, env_name);
    return rc;
}
