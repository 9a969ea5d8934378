        .globl _start
        .text
_start: mov x0, #1
        adr x1, msg
        mov x2, #len
        mov x8, #64
        svc #0
        mov x0, #0
        mov x8, #93
        svc #0
msg:    .ascii "hello 0.1.0 (aarch64-unknown-linux-musl)\n"
        len = . - msg
