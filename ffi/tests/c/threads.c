/*
 * One authsec_runtime shared by 8 threads. Each thread decides a mix of requests (allowed call,
 * in-band denial, missing token, filtered tools/list) many times and checks every answer.
 * Driven by ffi/tests/c_programs.rs, which starts the fixture backend and passes:
 *   AUTHSEC_TEST_CONFIG  the runtime configuration (JSON)
 *   AUTHSEC_TEST_TOKEN   a token with scope issues:read for subject user-1
 *   AUTHSEC_TEST_ROUNDS  rounds per thread (default 50)
 * Exit status 0 and "threads: N checks ok" on success.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authsec.h"
#include "requests.h"

#define THREADS 8

static const authsec_runtime *RT;
static int ROUNDS = 50;
static char AUTH[4096];


static int fail(const char *what) {
  fprintf(stderr, "threads: %s\n", what);
  return 1;
}

static int check(const char *body, int with_token, authsec_decision **out) {
  authsec_header h[2] = {
      {"content-type", 12, "application/json", 16},
      {"authorization", 13, AUTH, strlen(AUTH)},
  };
  authsec_error *err = NULL;
  authsec_status st =
      authsec_runtime_check_request(RT, "POST", 4, "/mcp", 4, h, with_token ? 2 : 1,
                                    (const uint8_t *)body, strlen(body), out, &err);
  if (st != AUTHSEC_STATUS_OK) {
    authsec_str m = authsec_error_message(err);
    fprintf(stderr, "check failed: %s %.*s\n", authsec_status_name(st), (int)m.len, m.data);
    authsec_error_free(err);
    return 1;
  }
  return 0;
}

static void *worker(void *arg) {
  (void)arg;
  long failures = 0;
  for (int i = 0; i < ROUNDS; i++) {
    authsec_decision *d = NULL;
    /* allowed */
    if (check(CALL_LIST, 1, &d)) return (void *)1;
    authsec_str sub = authsec_decision_subject(d);
    if (authsec_decision_get_kind(d) != AUTHSEC_DECISION_KIND_ALLOW || sub.len != 6 ||
        memcmp(sub.data, "user-1", 6) != 0)
      failures += fail("list_issues not allowed for user-1");
    authsec_decision_free(d);
    /* in-band denial: HTTP 200 with isError and insufficient_scope */
    if (check(CALL_CREATE, 1, &d)) return (void *)1;
    const authsec_response *r = authsec_decision_response(d);
    if (authsec_decision_get_kind(d) != AUTHSEC_DECISION_KIND_RESPOND ||
        authsec_response_status(r) != 200 || !has(authsec_response_body(r), "\"isError\":true") ||
        !has(authsec_response_body(r), "insufficient_scope"))
      failures += fail("create_issue not denied in-band");
    authsec_decision_free(d);
    /* no token: 401 with a challenge */
    if (check(CALL_LIST, 0, &d)) return (void *)1;
    r = authsec_decision_response(d);
    int challenge = 0;
    for (size_t k = 0; k < authsec_response_header_count(r); k++) {
      authsec_str n, v;
      if (authsec_response_header(r, k, &n, &v) == AUTHSEC_STATUS_OK && n.len == 16 &&
          memcmp(n.data, "www-authenticate", 16) == 0 && v.len > 7 && memcmp(v.data, "Bearer ", 7) == 0)
        challenge = 1;
    }
    if (authsec_response_status(r) != 401 || !challenge) failures += fail("no 401 challenge");
    authsec_decision_free(d);
    /* tools/list, filtered to what the caller may call */
    if (check(LIST, 1, &d)) return (void *)1;
    if (!authsec_decision_filter_tools_list(d)) failures += fail("tools/list not marked for filtering");
    authsec_filter_result *f = NULL;
    if (authsec_runtime_filter_response(RT, d, "application/json", 16, (const uint8_t *)LIST_ANSWER,
                                        strlen(LIST_ANSWER), &f, NULL) != AUTHSEC_STATUS_OK)
      return (void *)1;
    authsec_bytes b = authsec_filter_result_body(f);
    if (authsec_filter_result_get_kind(f) != AUTHSEC_FILTER_KIND_REWRITTEN ||
        b.len != strlen(LIST_FILTERED) || memcmp(b.data, LIST_FILTERED, b.len) != 0)
      failures += fail("tools/list not filtered");
    authsec_filter_result_free(f);
    authsec_decision_free(d);
  }
  return (void *)failures;
}

int main(void) {
  const char *config = getenv("AUTHSEC_TEST_CONFIG");
  const char *token = getenv("AUTHSEC_TEST_TOKEN");
  if (!config || !token) return fail("AUTHSEC_TEST_CONFIG and AUTHSEC_TEST_TOKEN are required");
  snprintf(AUTH, sizeof AUTH, "Bearer %s", token);
  const char *rounds = getenv("AUTHSEC_TEST_ROUNDS");
  if (rounds && atoi(rounds) > 0) ROUNDS = atoi(rounds);
  authsec_error *err = NULL;
  if (authsec_runtime_new(config, strlen(config), &RT, &err) != AUTHSEC_STATUS_OK) {
    authsec_str m = authsec_error_message(err);
    fprintf(stderr, "config: %.*s\n", (int)m.len, m.data);
    authsec_error_free(err);
    return 1;
  }
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, worker, NULL) != 0) return fail("pthread_create");
  long failures = 0;
  for (int i = 0; i < THREADS; i++) {
    void *r = NULL;
    pthread_join(t[i], &r);
    failures += (long)r;
  }
  authsec_runtime_free(RT);
  if (authsec_shutdown(NULL) != AUTHSEC_STATUS_OK) return fail("authsec_shutdown");
  if (failures) {
    fprintf(stderr, "threads: %ld failures\n", failures);
    return 1;
  }
  printf("threads: %d checks ok\n", THREADS * ROUNDS * 4);
  return 0;
}
