/* CPU feature detection: which ISAs this CPU can run. */
#ifndef SN_CPU_H
#define SN_CPU_H

/* Bit (1u << isa) is set for every sn_isa the CPU supports (scalar always). */
unsigned sn_cpu_isa_mask(void);

#endif
