/* The exported dlsym. glibc's dlsym finds "the caller" from its return
 * address, which matters for RTLD_NEXT: forwarding such a call from a C++
 * wrapper would make liboomtrace.so the caller, so another interposer doing
 * dlsym(RTLD_NEXT, "f") from its own f would get its own f back and recurse.
 * So RTLD_NEXT requests jump straight to glibc's dlsym with the caller's
 * return address still on the stack; every other request goes to
 * oomtrace_dlsym_impl (dlsym_hook.cpp). */
#if defined(__x86_64__)
    .text
    .globl  dlsym
    .type   dlsym, @function
dlsym:
    .cfi_startproc
    cmpq    $-1, %rdi                 /* RTLD_NEXT */
    jne     oomtrace_dlsym_impl
    pushq   %rdi
    .cfi_adjust_cfa_offset 8
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    subq    $8, %rsp                  /* keep the stack 16-byte aligned */
    .cfi_adjust_cfa_offset 8
    call    oomtrace_real_dlsym_address
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %rsi
    .cfi_adjust_cfa_offset -8
    popq    %rdi
    .cfi_adjust_cfa_offset -8
    jmp     *%rax
    .cfi_endproc
    .size   dlsym, .-dlsym
#elif defined(__aarch64__)
    .text
    .globl  dlsym
    .type   dlsym, %function
dlsym:
    .cfi_startproc
    cmn     x0, #1                    /* RTLD_NEXT */
    b.ne    oomtrace_dlsym_impl
    stp     x0, x1, [sp, #-32]!
    .cfi_adjust_cfa_offset 32
    str     x30, [sp, #16]
    bl      oomtrace_real_dlsym_address
    mov     x16, x0
    ldr     x30, [sp, #16]
    ldp     x0, x1, [sp], #32
    .cfi_adjust_cfa_offset -32
    br      x16
    .cfi_endproc
    .size   dlsym, .-dlsym
#else
#error "liboomtrace: dlsym entry is written for x86_64 and aarch64 only"
#endif
    .section .note.GNU-stack,"",%progbits
