; A guest whose CPU load steps between two levels, for hysteresis tests: LOW_CYCLES cycles of
; (spin LOW_SPIN timer ticks, halt LOW_HALT ticks), then HIGH_CYCLES cycles of (spin HIGH_SPIN,
; halt HIGH_HALT), and again. The BIOS timer (~18.2 Hz, counted at 0040:006C) paces it, so
; the levels and the phase lengths do not depend on how fast the host runs it; the low phase
; comes first, from boot. Built by deploy/lab/lab.sh:
;   nasm -f bin -DLOW_SPIN=1 -DLOW_HALT=6 -DLOW_CYCLES=156 -DHIGH_SPIN=2 ... wave.asm
bits 16
org 0x7c00
start:
  cli
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7c00
  sti
phases:
  mov si, LOW_CYCLES
  mov bx, LOW_SPIN
  mov dx, LOW_HALT
  call duty
  mov si, HIGH_CYCLES
  mov bx, HIGH_SPIN
  mov dx, HIGH_HALT
  call duty
  jmp phases

; duty: SI cycles of (spin BX ticks, then halt DX ticks).
duty:
  mov cx, bx
spin:
  mov ax, [0x046c]
wait_tick:
  cmp ax, [0x046c]
  je wait_tick
  loop spin
  mov cx, dx
halt:
  hlt
  loop halt
  dec si
  jnz duty
  ret

times 510 - ($ - $$) db 0
dw 0xAA55
