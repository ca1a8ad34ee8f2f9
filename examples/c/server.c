/*
 * A tiny MCP server in C (libmicrohttpd + a hand-rolled JSON-RPC handler) protected by
 * libauthsec. Every request to /mcp, and the RFC 9728 metadata route, goes through
 * authsec_runtime_check_request; the MCP handler runs only on an allow (or a handshake
 * pass-through), tools/list answers are filtered per caller, and the tool manifest is published
 * at startup through the handshake callback, which calls the same handler.
 *
 * Configuration comes from the environment (AUTHSEC_ISSUER, AUTHSEC_JWKS_URL,
 * AUTHSEC_RESOURCE_URI, AUTHSEC_TOOL_SCOPES_JSON, ...), exactly as for the reference SDKs.
 * Usage: server [port]   (0 or absent: a free port). Prints "READY http://127.0.0.1:<port>".
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authsec.h"

#define MAX_BODY (4u * 1024u * 1024u)
#define MAX_HEADERS 64

static const authsec_runtime *RT;

/* ---- the MCP handler: what an application writes, knowing nothing about auth ------------- */

static const char *TOOLS_LIST_RESULT =
    "{\"tools\":["
    "{\"name\":\"list_issues\",\"description\":\"List open issues\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{}}},"
    "{\"name\":\"create_issue\",\"description\":\"Open an issue\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"}}}},"
    "{\"name\":\"delete_issue\",\"description\":\"Delete an issue\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"}}}}"
    "]}";

/* Copy the raw JSON value of "id" (number or string) from a request, or "null". */
static void jsonrpc_id(const char *body, char *out, size_t cap) {
  const char *p = strstr(body, "\"id\"");
  snprintf(out, cap, "null");
  if (!p) return;
  p = strchr(p + 4, ':');
  if (!p) return;
  p++;
  while (*p == ' ') p++;
  size_t n = strcspn(p, ",}");
  if (n == 0 || n >= cap) return;
  memcpy(out, p, n);
  out[n] = '\0';
}

/* Answer one JSON-RPC request. `subject` is the caller (NULL on a handshake pass-through).
 * Returns a malloc'd JSON body, or NULL for a notification (HTTP 202, no body). */
static char *mcp_handle(const char *body, const char *subject, size_t subject_len) {
  char id[64];
  char *out = malloc(4096);
  if (!out) return NULL;
  jsonrpc_id(body, id, sizeof id);
  if (strstr(body, "\"notifications/")) {
    free(out);
    return NULL;
  }
  if (strstr(body, "\"initialize\"")) {
    snprintf(out, 4096,
             "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"protocolVersion\":\"2025-06-18\","
             "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"authsec-c-example\","
             "\"version\":\"0.1.0\"}}}",
             id);
  } else if (strstr(body, "\"tools/list\"")) {
    snprintf(out, 4096, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", id, TOOLS_LIST_RESULT);
  } else if (strstr(body, "\"tools/call\"")) {
    const char *tool = strstr(body, "\"list_issues\"")    ? "list_issues"
                       : strstr(body, "\"create_issue\"") ? "create_issue"
                       : strstr(body, "\"delete_issue\"") ? "delete_issue"
                                                          : NULL;
    if (tool) {
      snprintf(out, 4096,
               "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[{\"type\":\"text\","
               "\"text\":\"%s ran for %.*s\"}]}}",
               id, tool, (int)subject_len, subject ? subject : "");
    } else {
      snprintf(out, 4096,
               "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32602,\"message\":\"unknown "
               "tool\"}}",
               id);
    }
  } else {
    snprintf(out, 4096,
             "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32601,\"message\":\"method not "
             "found\"}}",
             id);
  }
  return out;
}

/* ---- the HTTP glue: hand every request to libauthsec first -------------------------------- */

struct request {
  char *body;
  size_t len;
  int too_large;
};

struct header_list {
  authsec_header items[MAX_HEADERS];
  size_t count;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
  struct header_list *h = cls;
  (void)kind;
  if (h->count < MAX_HEADERS && key && value) {
    h->items[h->count].name = key;
    h->items[h->count].name_len = strlen(key);
    h->items[h->count].value = value;
    h->items[h->count].value_len = strlen(value);
    h->count++;
  }
  return MHD_YES;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ct,
                                 const void *body, size_t len) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  if (ct) MHD_add_response_header(r, "Content-Type", ct);
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* Write a response the runtime produced (a denial, an in-band error, the metadata document). */
static enum MHD_Result send_authsec(struct MHD_Connection *c, const authsec_response *resp) {
  authsec_bytes body = authsec_response_body(resp);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(body.len, (void *)body.data, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  for (size_t i = 0; i < authsec_response_header_count(resp); i++) {
    authsec_str name, value;
    if (authsec_response_header(resp, i, &name, &value) != AUTHSEC_STATUS_OK) continue;
    char n[128], v[2048];
    snprintf(n, sizeof n, "%.*s", (int)name.len, name.data);
    snprintf(v, sizeof v, "%.*s", (int)value.len, value.data);
    MHD_add_response_header(r, n, v);
  }
  enum MHD_Result ok = MHD_queue_response(c, authsec_response_status(resp), r);
  MHD_destroy_response(r);
  return ok;
}

/* Fail closed: any failed call means the request is refused. */
static enum MHD_Result send_failure(struct MHD_Connection *c, authsec_error *err) {
  authsec_str msg = authsec_error_message(err);
  fprintf(stderr, "authsec: %s: %.*s\n", authsec_status_name(authsec_error_code(err)),
          (int)msg.len, msg.data);
  authsec_error_free(err);
  static const char body[] = "{\"error\":\"server_error\"}";
  return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body, sizeof body - 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state) {
  (void)cls;
  (void)version;
  struct request *req = *state;
  if (!req) {
    req = calloc(1, sizeof *req);
    if (!req) return MHD_NO;
    *state = req;
    return MHD_YES;
  }
  if (*upload_size) {
    if (req->len + *upload_size > MAX_BODY) {
      req->too_large = 1;
    } else {
      char *grown = realloc(req->body, req->len + *upload_size + 1);
      if (!grown) return MHD_NO;
      req->body = grown;
      memcpy(req->body + req->len, upload, *upload_size);
      req->len += *upload_size;
      req->body[req->len] = '\0';
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (req->too_large) {
    static const char body[] = "{\"error\":\"invalid_request\",\"error_description\":\"request body too large\"}";
    return send_text(c, 413, "application/json", body, sizeof body - 1);
  }

  struct header_list headers = {.count = 0};
  MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &headers);
  authsec_decision *decision = NULL;
  authsec_error *err = NULL;
  if (authsec_runtime_check_request(RT, method, strlen(method), url, strlen(url), headers.items,
                                    headers.count, (const uint8_t *)req->body, req->len,
                                    &decision, &err) != AUTHSEC_STATUS_OK)
    return send_failure(c, err);

  enum MHD_Result ok;
  switch (authsec_decision_get_kind(decision)) {
    case AUTHSEC_DECISION_KIND_RESPOND:
      ok = send_authsec(c, authsec_decision_response(decision));
      break;
    case AUTHSEC_DECISION_KIND_ALLOW:
    case AUTHSEC_DECISION_KIND_PASS_THROUGH: {
      if (strcmp(url, "/mcp") != 0 || strcmp(method, "POST") != 0) {
        static const char nf[] = "{\"error\":\"not_found\"}";
        ok = send_text(c, MHD_HTTP_NOT_FOUND, "application/json", nf, sizeof nf - 1);
        break;
      }
      authsec_str subject = authsec_decision_subject(decision);
      char *answer = mcp_handle(req->body ? req->body : "", subject.data, subject.len);
      if (!answer) {
        ok = send_text(c, MHD_HTTP_ACCEPTED, NULL, "", 0);
        break;
      }
      if (authsec_decision_filter_tools_list(decision)) {
        authsec_filter_result *filtered = NULL;
        static const char ct[] = "application/json";
        if (authsec_runtime_filter_response(RT, decision, ct, sizeof ct - 1,
                                            (const uint8_t *)answer, strlen(answer), &filtered,
                                            &err) != AUTHSEC_STATUS_OK) {
          free(answer);
          ok = send_failure(c, err);
          break;
        }
        switch (authsec_filter_result_get_kind(filtered)) {
          case AUTHSEC_FILTER_KIND_REWRITTEN: {
            authsec_bytes b = authsec_filter_result_body(filtered);
            ok = send_text(c, MHD_HTTP_OK, "application/json", b.data, b.len);
            break;
          }
          case AUTHSEC_FILTER_KIND_UNCHANGED:
            ok = send_text(c, MHD_HTTP_OK, "application/json", answer, strlen(answer));
            break;
          default:
            ok = send_authsec(c, authsec_filter_result_response(filtered));
        }
        authsec_filter_result_free(filtered);
      } else {
        ok = send_text(c, MHD_HTTP_OK, "application/json", answer, strlen(answer));
      }
      free(answer);
      break;
    }
    default:
      ok = MHD_NO;
  }
  authsec_decision_free(decision);
  return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code) {
  (void)cls;
  (void)c;
  (void)code;
  struct request *req = *state;
  if (req) {
    free(req->body);
    free(req);
  }
  *state = NULL;
}

/* The manifest handshake: the runtime asks, the MCP handler answers, as over HTTP. */
static uint32_t answer_rpc(void *userdata, const uint8_t *body, size_t len, authsec_str session,
                           authsec_rpc_answer *answer) {
  (void)userdata;
  (void)session;
  char *text = malloc(len + 1);
  if (!text) return AUTHSEC_STATUS_INTERNAL;
  memcpy(text, body, len);
  text[len] = '\0';
  char *out = mcp_handle(text, NULL, 0);
  free(text);
  static const char ct[] = "application/json";
  authsec_status st = out ? authsec_rpc_answer_set(answer, 200, ct, sizeof ct - 1,
                                                   (const uint8_t *)out, strlen(out), NULL, 0)
                          : authsec_rpc_answer_set(answer, 202, ct, sizeof ct - 1, NULL, 0, NULL, 0);
  free(out);
  return st;
}

int main(int argc, char **argv) {
  unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
  authsec_error *err = NULL;
  if (authsec_runtime_from_env(NULL, 0, &RT, &err) != AUTHSEC_STATUS_OK) {
    authsec_str m = authsec_error_message(err);
    fprintf(stderr, "config: %.*s\n", (int)m.len, m.data);
    authsec_error_free(err);
    return 2;
  }
  authsec_text *warnings = NULL;
  if (authsec_runtime_startup(RT, &warnings, &err) != AUTHSEC_STATUS_OK) {
    authsec_str m = authsec_error_message(err);
    fprintf(stderr, "startup: %.*s\n", (int)m.len, m.data);
    authsec_error_free(err);
    authsec_runtime_free(RT);
    return 3;
  }
  authsec_str w = authsec_text_str(warnings);
  if (w.len > 2) fprintf(stderr, "startup warnings: %.*s\n", (int)w.len, w.data);
  authsec_text_free(warnings);

  const char *publish = getenv("AUTHSEC_PUBLISH_MANIFEST");
  if (publish && strcmp(publish, "true") == 0) {
    authsec_text *report = NULL;
    if (authsec_runtime_publish_manifest_handshake(RT, answer_rpc, NULL, &report, &err) ==
        AUTHSEC_STATUS_OK) {
      authsec_str r = authsec_text_str(report);
      fprintf(stderr, "manifest published: %.*s\n", (int)r.len, r.data);
      authsec_text_free(report);
    } else { /* never fatal: keep serving */
      authsec_str m = authsec_error_message(err);
      fprintf(stderr, "manifest publish failed: %.*s\n", (int)m.len, m.data);
      authsec_error_free(err);
    }
  }

  /* Block SIGTERM/SIGINT in every thread (MHD's inherit the mask); main waits for them. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
      (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
      NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "could not listen on port %u\n", port);
    authsec_runtime_free(RT);
    return 4;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("READY http://127.0.0.1:%u\n", info ? info->port : port);
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  MHD_stop_daemon(d);
  authsec_runtime_free(RT);
  authsec_shutdown(NULL);
  return 0;
}
