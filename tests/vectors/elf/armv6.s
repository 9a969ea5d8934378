        .syntax unified
        .arm
        .eabi_attribute 28, 1
        .globl _start
        .text
_start: mov r0, #1
        adr r1, msg
        mov r2, #len
        mov r7, #4
        svc #0
        mov r0, #0
        mov r7, #1
        svc #0
msg:    .ascii "hello 0.1.0 (armv6l-unknown-linux-musleabihf)\n"
        len = . - msg
