/* Cortex-M startup for the qk example: vector table, Reset_Handler and a fault handler.
   Reset_Handler enables the FPU when the build uses it, copies .data from flash to RAM and
   zeroes .bss (see cortex_m.ld), opens the semihosting stdio handles (librdimon, if linked),
   runs the static constructors, calls main and passes its result to exit(), which reports it
   to the host (semihosting SYS_EXIT: qemu exits with that code). The program is linked with
   -nostartfiles: newlib's rdimon crt0 is not used because it takes the stack and heap from the
   debugger (SYS_HEAPINFO), which qemu guesses from the board's RAM size (wrong on mps3-an547);
   here the stack starts at the top of RAM and the heap (newlib's sbrk) grows from the end of
   .bss towards it. Any fault ends the program through SYS_EXIT with a run-time error, so a
   crash is a failure (qemu exits non-zero), never a hang. */
  .syntax unified
  .thumb

  .section .vectors, "a"
  .align 2
  .global qk_vectors
qk_vectors:
  .word __stack          /* initial SP */
  .word Reset_Handler
  .rept 14               /* NMI, HardFault, MemManage, BusFault, UsageFault, reserved, SVC, ... */
  .word Fault_Handler
  .endr

  .text
  .align 2
  .global Reset_Handler
  .type Reset_Handler, %function
  .thumb_func
Reset_Handler:
#if defined(__ARM_FP)
  ldr r0, =0xE000ED88    /* CPACR: full access to CP10 and CP11 */
  ldr r1, [r0]
  orr r1, r1, #(0xF << 20)
  str r1, [r0]
  dsb
  isb
#endif
  ldr r0, =__data_load__
  ldr r1, =__data_start__
  ldr r2, =__data_end__
1:
  cmp r1, r2
  bhs 2f
  ldr r3, [r0], #4
  str r3, [r1], #4
  b 1b
2:
  ldr r1, =__bss_start__
  ldr r2, =__bss_end__
  movs r3, #0
3:
  cmp r1, r2
  bhs 4f
  str r3, [r1], #4
  b 3b
4:
  ldr r0, =initialise_monitor_handles   /* weak: absent with nosys.specs (no semihosting) */
  cbz r0, 5f
  blx r0
5:
  bl __libc_init_array
  bl main
  bl exit
  .size Reset_Handler, . - Reset_Handler

/* __libc_init_array calls _init and exit calls _fini (crti.o's, left out by -nostartfiles):
   constructors are in .init_array, so there is nothing for them to do. */
  .weak initialise_monitor_handles

  .global _init
  .type _init, %function
  .thumb_func
_init:
  bx lr
  .size _init, . - _init
  .global _fini
  .type _fini, %function
  .thumb_func
_fini:
  bx lr
  .size _fini, . - _fini

/* crtbegin.o's, also left out: the full libstdc++ (without nano.specs) registers destructors
   with __cxa_atexit(..., &__dso_handle). */
  .data
  .align 2
  .global __dso_handle
  .hidden __dso_handle
__dso_handle:
  .word 0

  .text
  .type Fault_Handler, %function
  .thumb_func
Fault_Handler:
  movs r0, #0x18         /* SYS_EXIT */
  ldr r1, =0x20024       /* ADP_Stopped_RunTimeErrorUnknown */
  bkpt 0xab
6:
  b 6b
  .size Fault_Handler, . - Fault_Handler
