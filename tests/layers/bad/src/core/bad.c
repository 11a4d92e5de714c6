/* A deliberately bad file for scripts/check-layers' own test: core may not include server/. */
#include "core/bad.h"
#include "server/server.h"
