/*
 * A tiny MCP server in C (libmicrohttpd + a cJSON-based JSON-RPC handler) protected by
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

#include <cjson/cJSON.h>

#include "authsec.h"

#define MAX_HEADERS 64

static const authsec_runtime *RT;
static uint64_t MAX_BODY; /* the runtime's max_body_bytes: a body past it is not kept */

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

/* A JSON-RPC answer `{"jsonrpc":"2.0","id":<id>,<member>:<value>}` as malloc'd text. Takes
 * ownership of `value`. */
static char *rpc_answer(const cJSON *id, const char *member, cJSON *value) {
  cJSON *answer = cJSON_CreateObject();
  if (!answer) {
    cJSON_Delete(value);
    return NULL;
  }
  cJSON_AddStringToObject(answer, "jsonrpc", "2.0");
  cJSON_AddItemToObject(answer, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
  cJSON_AddItemToObject(answer, member, value);
  char *text = cJSON_PrintUnformatted(answer);
  cJSON_Delete(answer);
  return text;
}

static char *rpc_error(const cJSON *id, int code, const char *message) {
  cJSON *error = cJSON_CreateObject();
  if (!error) return NULL;
  cJSON_AddNumberToObject(error, "code", code);
  cJSON_AddStringToObject(error, "message", message);
  return rpc_answer(id, "error", error);
}

/* Answer one JSON-RPC request with a real JSON parser (cJSON): the handler reads exactly the
 * members the runtime authorized. Member look-ups are case-sensitive on purpose: the runtime
 * refuses duplicate and case-folded keys, and a case-insensitive reader here would see a
 * different request than the one that was checked.
 * `subject` is the caller; NULL means a handshake pass-through (the token was present but not
 * valid), where only the handshake methods are answered and nothing else runs.
 * Returns a malloc'd JSON body, or NULL for a notification (HTTP 202, no body). */
static char *mcp_handle(const char *body, size_t len, const char *subject, size_t subject_len) {
  cJSON *req = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(req)) {
    cJSON_Delete(req);
    return rpc_error(NULL, -32600, "expected one JSON-RPC request object");
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
  const cJSON *method_item = cJSON_GetObjectItemCaseSensitive(req, "method");
  const char *method = cJSON_IsString(method_item) ? method_item->valuestring : "";
  char *out = NULL;

  if (strncmp(method, "notifications/", 14) == 0 && !id) {
    out = NULL; /* a notification: no answer */
  } else if (strcmp(method, "initialize") == 0) {
    cJSON *result = cJSON_Parse(
        "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{}},"
        "\"serverInfo\":{\"name\":\"authsec-c-example\",\"version\":\"0.1.0\"}}");
    out = rpc_answer(id, "result", result);
  } else if (strcmp(method, "ping") == 0) {
    out = rpc_answer(id, "result", cJSON_CreateObject());
  } else if (!subject) {
    /* Pass-through carries no caller: never run anything but the handshake. */
    out = rpc_error(id, -32001, "authentication required");
  } else if (strcmp(method, "tools/list") == 0) {
    out = rpc_answer(id, "result", cJSON_Parse(TOOLS_LIST_RESULT));
  } else if (strcmp(method, "tools/call") == 0) {
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    const char *tool = cJSON_IsString(name) ? name->valuestring : "";
    if (strcmp(tool, "list_issues") == 0 || strcmp(tool, "create_issue") == 0 ||
        strcmp(tool, "delete_issue") == 0) {
      char text[256];
      snprintf(text, sizeof text, "%s ran for %.*s", tool, (int)subject_len, subject);
      cJSON *result = cJSON_CreateObject();
      cJSON *content = cJSON_AddArrayToObject(result, "content");
      cJSON *item = cJSON_CreateObject();
      cJSON_AddStringToObject(item, "type", "text");
      cJSON_AddStringToObject(item, "text", text);
      cJSON_AddItemToArray(content, item);
      out = rpc_answer(id, "result", result);
    } else {
      out = rpc_error(id, -32602, "unknown tool");
    }
  } else {
    out = rpc_error(id, -32601, "method not found");
  }
  cJSON_Delete(req);
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
    if (req->too_large || req->len + *upload_size > MAX_BODY) {
      req->too_large = 1; /* keep nothing: the runtime answers without the body */
      free(req->body);
      req->body = NULL;
      req->len = 0;
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
  struct header_list headers = {.count = 0};
  MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &headers);
  authsec_decision *decision = NULL;
  authsec_error *err = NULL;
  /* Over the limit the body was not kept: the runtime answers without it (413). */
  authsec_status st =
      req->too_large
          ? authsec_runtime_check_oversized(RT, method, strlen(method), url, strlen(url),
                                            headers.items, headers.count, &decision, &err)
          : authsec_runtime_check_request(RT, method, strlen(method), url, strlen(url),
                                          headers.items, headers.count,
                                          (const uint8_t *)req->body, req->len, &decision, &err);
  if (st != AUTHSEC_STATUS_OK) return send_failure(c, err);

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
      /* Only an allow carries a caller; a pass-through runs the handshake and nothing else. */
      authsec_str subject = {NULL, 0};
      if (authsec_decision_get_kind(decision) == AUTHSEC_DECISION_KIND_ALLOW) {
        subject = authsec_decision_subject(decision);
        if (!subject.data) subject = (authsec_str){"", 0};
      }
      char *answer = mcp_handle(req->body ? req->body : "", req->len, subject.data, subject.len);
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
  /* The runtime's own handshake (it lists the tools to publish them): answered as a caller. */
  char *out = mcp_handle(text, len, "authsec-manifest", strlen("authsec-manifest"));
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
  /* Every decision as one JSON line on stderr unless the environment says otherwise. */
  setenv("AUTHSEC_AUDIT_LOG", "stderr", 0);
  if (authsec_runtime_from_env(NULL, 0, &RT, &err) != AUTHSEC_STATUS_OK) {
    authsec_str m = authsec_error_message(err);
    fprintf(stderr, "config: %.*s\n", (int)m.len, m.data);
    authsec_error_free(err);
    return 2;
  }
  MAX_BODY = authsec_runtime_max_body_bytes(RT);
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
