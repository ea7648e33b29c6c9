/* vm-sv48.S - Sv48 paging (4 levels); see vm-body.h. */
#define VM_LEVELS 4
#define VM_MODE 9
#define HIGH_VA 0x00007f8040123000
#define NEG_VA 0xffff800000456000
#define NONCANON_VA 0x0000800000000000
#include "vm-body.h"
