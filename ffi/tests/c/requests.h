/*
 * The requests and handler answers shared by the C test programs (threads.c, leaks.c): an
 * allowed and a denied tools/call, a tools/list, the handler's list answer and the same answer
 * filtered for an issues:read caller; `has`, a substring search over an authsec_bytes.
 */
#ifndef AUTHSEC_TEST_REQUESTS_H
#define AUTHSEC_TEST_REQUESTS_H

#include <string.h>

#include "authsec.h"

static const char CALL_LIST[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"list_issues\"}}";
static const char CALL_CREATE[] =
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"create_issue\"}}";
static const char LIST[] = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}";
static const char LIST_ANSWER[] =
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"list_issues\"},"
    "{\"name\":\"create_issue\"}]}}";
static const char LIST_FILTERED[] =
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"list_issues\"}],"
    "\"cacheScope\":\"private\"}}";

static int has(authsec_bytes b, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= b.len; i++)
    if (memcmp(b.data + i, needle, n) == 0) return 1;
  return 0;
}

#endif
