/* A deliberately bad file: a bare include and no own header first. */
#include "core/buf.h"
#include "unqualified.h"
