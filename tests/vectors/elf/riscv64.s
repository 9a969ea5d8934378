        .section .rodata
msg:    .ascii "hello 0.1.0 (riscv64gc-unknown-linux-musl)\n"
        len = . - msg
        .globl _start
        .text
_start: li a0, 1
        la a1, msg
        li a2, len
        li a7, 64
        ecall
        li a0, 0
        li a7, 93
        ecall
