/* placeholder: being written */
#include "codec.h"
