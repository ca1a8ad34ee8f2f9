/*
 * Many checks through the C ABI with a mix of requests, for leak and memory-growth runs
 * (scripts/leaks.sh, and a bounded run under valgrind in ffi/tests/c_programs.rs). Each check
 * is one of, in turn:
 *   allowed tools/call (one of the tokens, cycling), in-band denial (create_issue), missing
 *   token (401), first sight (a token never seen before: a valid token with a signature byte
 *   changed per check, so the verified-token cache misses and RS256 verification refuses it),
 *   tools/list filtered through authsec_runtime_filter_response, the metadata document (both
 *   the route and authsec_runtime_metadata), an oversized body (authsec_runtime_check_oversized),
 *   and an unparseable body.
 * Every answer is checked (kind, status, bytes); a call answering AUTHSEC_STATUS_PANIC (901, a
 * panic caught at the boundary) is counted and fails the run.
 * Driven by its caller, which starts the fixture backend and passes:
 *   AUTHSEC_TEST_CONFIG  the runtime configuration (JSON)
 *   AUTHSEC_TEST_TOKENS  tokens with scope issues:read for subject user-1, one per line
 *   AUTHSEC_TEST_CHECKS  number of checks (default 20000)
 *   AUTHSEC_TEST_SAMPLES number of RSS samples (default 20), printed as "rss <check> <kB>"
 * Prints "leaks: N checks ok, 0 panics" and exits 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authsec.h"
#include "requests.h"

#define MAX_TOKENS 256

static const authsec_runtime *RT;
static char *TOKENS[MAX_TOKENS];
static size_t NTOKENS;
static long PANICS;

static const char CALL_NO_ID[] = "{\"method\":\"tools/call\",\"params\":{\"name\":\"list_issues\"}}";
static const char UNPARSEABLE[] = "{\"jsonrpc\":\"2.0\",\"id\":";

static int fail(const char *what) {
  fprintf(stderr, "leaks: %s\n", what);
  return 1;
}

/* A status that is not OK: count panics, report, free the error. */
static int bad_status(authsec_status st, authsec_error *err, const char *what) {
  if (st == AUTHSEC_STATUS_PANIC) PANICS++;
  authsec_str m = authsec_error_message(err);
  fprintf(stderr, "leaks: %s: %s %.*s\n", what, authsec_status_name(st), (int)m.len, m.data);
  authsec_error_free(err);
  return 1;
}

static int check(const char *method, const char *path, const char *body, const char *auth,
                 authsec_decision **out) {
  authsec_header h[2] = {
      {"content-type", 12, "application/json", 16},
      {"authorization", 13, auth, auth ? strlen(auth) : 0},
  };
  authsec_error *err = NULL;
  authsec_status st = authsec_runtime_check_request(
      RT, method, strlen(method), path, strlen(path), h, auth ? 2 : 1, (const uint8_t *)body,
      strlen(body), out, &err);
  return st == AUTHSEC_STATUS_OK ? 0 : bad_status(st, err, "check");
}

static int status_of(authsec_decision *d) {
  if (authsec_decision_get_kind(d) != AUTHSEC_DECISION_KIND_RESPOND) return -1;
  return (int)authsec_response_status(authsec_decision_response(d));
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * 4;
}

/* One check of kind `i % 9`; 0 when the answer is the expected one. */
static int one(long i, char *auth, size_t auth_cap) {
  authsec_decision *d = NULL;
  int bad = 0;
  const char *tok = TOKENS[(size_t)(i / 9) % NTOKENS];
  switch (i % 9) {
    case 0: /* allowed */
    case 1:
      snprintf(auth, auth_cap, "Bearer %s", tok);
      if (check("POST", "/mcp", CALL_LIST, auth, &d)) return 1;
      authsec_str sub = authsec_decision_subject(d);
      bad = authsec_decision_get_kind(d) != AUTHSEC_DECISION_KIND_ALLOW || sub.len != 6 ||
            memcmp(sub.data, "user-1", 6) != 0;
      break;
    case 2: /* in-band denial */
      snprintf(auth, auth_cap, "Bearer %s", tok);
      if (check("POST", "/mcp", CALL_CREATE, auth, &d)) return 1;
      bad = status_of(d) != 200 ||
            !has(authsec_response_body(authsec_decision_response(d)), "insufficient_scope");
      break;
    case 3: /* missing token */
      if (check("POST", "/mcp", CALL_LIST, NULL, &d)) return 1;
      bad = status_of(d) != 401;
      break;
    case 4: { /* first sight: a signature never seen, refused by verification */
      int n = snprintf(auth, auth_cap, "Bearer %s", tok);
      if (n < 20 || (size_t)n >= auth_cap) return fail("token too long");
      static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      long v = i;
      for (int k = 0; k < 5; k++, v /= 64) auth[n - 2 - k] = B64[v % 64];
      if (check("POST", "/mcp", CALL_NO_ID, auth, &d)) return 1;
      bad = status_of(d) != 401 ||
            !has(authsec_response_body(authsec_decision_response(d)), "invalid_token");
      break;
    }
    case 5: { /* tools/list, filtered */
      snprintf(auth, auth_cap, "Bearer %s", tok);
      if (check("POST", "/mcp", LIST, auth, &d)) return 1;
      authsec_filter_result *f = NULL;
      authsec_error *err = NULL;
      authsec_status st = authsec_runtime_filter_response(
          RT, d, "application/json", 16, (const uint8_t *)LIST_ANSWER, strlen(LIST_ANSWER), &f,
          &err);
      if (st != AUTHSEC_STATUS_OK) {
        authsec_decision_free(d);
        return bad_status(st, err, "filter");
      }
      authsec_bytes b = authsec_filter_result_body(f);
      bad = authsec_filter_result_get_kind(f) != AUTHSEC_FILTER_KIND_REWRITTEN ||
            b.len != strlen(LIST_FILTERED) || memcmp(b.data, LIST_FILTERED, b.len) != 0;
      authsec_filter_result_free(f);
      break;
    }
    case 6: { /* metadata: the route, then the API */
      if (check("GET", "/.well-known/oauth-protected-resource/mcp", "", NULL, &d)) return 1;
      bad = status_of(d) != 200 ||
            !has(authsec_response_body(authsec_decision_response(d)), "\"resource\"");
      authsec_response *r = NULL;
      authsec_error *err = NULL;
      authsec_status st = authsec_runtime_metadata(RT, &r, &err);
      if (st != AUTHSEC_STATUS_OK) {
        authsec_decision_free(d);
        return bad_status(st, err, "metadata");
      }
      bad |= authsec_response_status(r) != 200;
      authsec_response_free(r);
      break;
    }
    case 7: { /* oversized body */
      snprintf(auth, auth_cap, "Bearer %s", tok);
      authsec_header h[1] = {{"authorization", 13, auth, strlen(auth)}};
      authsec_error *err = NULL;
      authsec_status st =
          authsec_runtime_check_oversized(RT, "POST", 4, "/mcp", 4, h, 1, &d, &err);
      if (st != AUTHSEC_STATUS_OK) return bad_status(st, err, "check_oversized");
      bad = status_of(d) != 413;
      break;
    }
    default: /* unparseable body */
      snprintf(auth, auth_cap, "Bearer %s", tok);
      if (check("POST", "/mcp", UNPARSEABLE, auth, &d)) return 1;
      bad = status_of(d) != 400;
      break;
  }
  authsec_decision_free(d);
  if (bad) fprintf(stderr, "leaks: check %ld (kind %ld) gave an unexpected answer\n", i, i % 9);
  return bad;
}

int main(void) {
  const char *config = getenv("AUTHSEC_TEST_CONFIG");
  const char *tokens = getenv("AUTHSEC_TEST_TOKENS");
  if (!config || !tokens) return fail("AUTHSEC_TEST_CONFIG and AUTHSEC_TEST_TOKENS are required");
  char *copy = strdup(tokens);
  if (!copy) return fail("out of memory");
  for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t && NTOKENS < MAX_TOKENS;
       t = strtok_r(NULL, "\n", &save))
    TOKENS[NTOKENS++] = t;
  if (NTOKENS == 0) return fail("no tokens");
  long checks = 20000, samples = 20;
  const char *c = getenv("AUTHSEC_TEST_CHECKS");
  if (c && atol(c) > 0) checks = atol(c);
  const char *s = getenv("AUTHSEC_TEST_SAMPLES");
  if (s && atol(s) > 0) samples = atol(s);
  long every = checks / samples > 0 ? checks / samples : 1;

  authsec_error *err = NULL;
  if (authsec_runtime_new(config, strlen(config), &RT, &err) != AUTHSEC_STATUS_OK)
    return bad_status(AUTHSEC_STATUS_CONFIG_INVALID, err, "config");
  char auth[8192];
  long failures = 0;
  for (long i = 0; i < checks; i++) {
    failures += one(i, auth, sizeof auth);
    if (failures > 10) break;
    if ((i + 1) % every == 0) printf("rss %ld %ld\n", i + 1, rss_kb());
  }
  authsec_runtime_free(RT);
  if (authsec_shutdown(NULL) != AUTHSEC_STATUS_OK) return fail("authsec_shutdown");
  free(copy);
  if (failures || PANICS) {
    fprintf(stderr, "leaks: %ld failures, %ld panics\n", failures, PANICS);
    return 1;
  }
  printf("leaks: %ld checks ok, 0 panics\n", checks);
  return 0;
}
