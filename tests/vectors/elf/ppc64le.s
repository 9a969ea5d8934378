        .abiversion 2
        .globl _start
        .text
_start: li 0, 4
        li 3, 1
        bl 1f
1:      mflr 4
        addi 4, 4, msg - 1b
        li 5, msgend - msg
        sc
        li 0, 1
        li 3, 0
        sc
msg:    .ascii "hello 0.1.0 (powerpc64le-unknown-linux-musl)\n"
msgend:
