/* vm-sv57.S - Sv57 paging (5 levels); see vm-body.h. */
#define VM_LEVELS 5
#define VM_MODE 10
#define HIGH_VA 0x00ff008040123000
#define NEG_VA 0xff00000000456000
#define NONCANON_VA 0x0100000000000000
#include "vm-body.h"
