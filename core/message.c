/* placeholder: being written */
#include "message.h"
