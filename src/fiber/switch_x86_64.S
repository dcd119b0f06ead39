/* SPDX-License-Identifier: MIT */
/* x86-64 System V context switch. See switch.h. */
	.text

/* void weft__ctx_switch(struct weft__ctx *from (rdi), struct weft__ctx *to (rsi)) */
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch, @function
	.p2align 4
weft__ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	/* The FPU control words are callee-saved in the ABI: a task that
	 * changes rounding must not change its worker's. */
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsp, %rax
	movq	(%rsi), %rsp
	/* Reload only what differs: ldmxcsr and fldcw stall the pipeline,
	 * and nearly every switch finds the same control words. MXCSR's
	 * status flags (bits 0-5) are not compared: the ABI leaves them
	 * caller-saved, and a worker whose flags were raised once (an
	 * inexact double anywhere before) differed from every new task's
	 * clean MXCSR, so each switch to and from a task reloaded it. */
	movl	(%rsp), %ecx
	xorl	(%rax), %ecx
	testl	$0xffc0, %ecx
	jnz	2f
1:	movzwl	4(%rsp), %ecx
	cmpw	4(%rax), %cx
	jne	3f
4:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
2:	ldmxcsr	(%rsp)
	jmp	1b
3:	fldcw	4(%rsp)
	jmp	4b
	.cfi_endproc
	.size	weft__ctx_switch, .-weft__ctx_switch

/* First code of a new context: r12 = arg, r13 = entry; rsp is 16-aligned. */
	.globl	weft__ctx_start
	.hidden	weft__ctx_start
	.type	weft__ctx_start, @function
	.p2align 4
weft__ctx_start:
	.cfi_startproc
	/* End of the call chain for debuggers and unwinders. */
	.cfi_undefined rip
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	weft__ctx_start, .-weft__ctx_start

	.section .note.GNU-stack,"",@progbits
