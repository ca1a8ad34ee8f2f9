/*
 * The unprotected twin of examples/c/server.c for the whole-server load benchmark
 * (scripts/load.sh): the same libmicrohttpd set-up (a thread per connection, 127.0.0.1) and the
 * same cJSON handler for tools/call, without libauthsec. The caller the protected example names
 * in its answer comes from the token; here it is LOAD_SUBJECT (default "load-user"), so both
 * answer the same bytes for the same request.
 * Usage: unprotected [port]   (0 or absent: a free port). Prints "READY http://127.0.0.1:<port>".
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MAX_BODY (4u * 1024u * 1024u)

static const char *SUBJECT = "load-user";

/* {"jsonrpc":"2.0","id":<id>,<member>:<value>} as malloc'd text; takes ownership of value. */
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

/* The example's tools/call path, byte for byte: "<tool> ran for <subject>". */
static char *mcp_handle(const char *body, size_t len) {
  cJSON *req = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(req)) {
    cJSON_Delete(req);
    return rpc_error(NULL, -32600, "expected one JSON-RPC request object");
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
  const cJSON *method_item = cJSON_GetObjectItemCaseSensitive(req, "method");
  const char *method = cJSON_IsString(method_item) ? method_item->valuestring : "";
  char *out = NULL;
  if (strcmp(method, "tools/call") == 0) {
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    const char *tool = cJSON_IsString(name) ? name->valuestring : "";
    if (strcmp(tool, "list_issues") == 0 || strcmp(tool, "create_issue") == 0 ||
        strcmp(tool, "delete_issue") == 0) {
      char text[256];
      snprintf(text, sizeof text, "%s ran for %s", tool, SUBJECT);
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

struct request {
  char *body;
  size_t len;
  int too_large;
};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *body,
                                 size_t len) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
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
      req->too_large = 1;
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
  if (req->too_large) {
    static const char big[] = "{\"error\":\"payload_too_large\"}";
    return send_text(c, MHD_HTTP_CONTENT_TOO_LARGE, big, sizeof big - 1);
  }
  if (strcmp(url, "/mcp") != 0 || strcmp(method, "POST") != 0) {
    static const char nf[] = "{\"error\":\"not_found\"}";
    return send_text(c, MHD_HTTP_NOT_FOUND, nf, sizeof nf - 1);
  }
  char *answer = mcp_handle(req->body ? req->body : "", req->len);
  if (!answer) {
    static const char err[] = "{\"error\":\"server_error\"}";
    return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err, sizeof err - 1);
  }
  enum MHD_Result ok = send_text(c, MHD_HTTP_OK, answer, strlen(answer));
  free(answer);
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

int main(int argc, char **argv) {
  unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
  const char *subject = getenv("LOAD_SUBJECT");
  if (subject && *subject) SUBJECT = subject;

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
    return 4;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("READY http://127.0.0.1:%u\n", info ? info->port : port);
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  MHD_stop_daemon(d);
  return 0;
}
