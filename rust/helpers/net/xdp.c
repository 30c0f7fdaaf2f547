// SPDX-License-Identifier: GPL-2.0

#include <linux/bpf_trace.h>
#include <linux/filter.h>
#include <net/xdp.h>

__rust_helper u32 rust_helper_bpf_prog_run_xdp(const struct bpf_prog *prog,
					       struct xdp_buff *xdp)
{
	return bpf_prog_run_xdp(prog, xdp);
}

__rust_helper void rust_helper_trace_xdp_exception(const struct net_device *dev,
						   const struct bpf_prog *prog, u32 act)
{
	trace_xdp_exception(dev, prog, act);
}

__rust_helper void rust_helper_xdp_init_buff(struct xdp_buff *xdp, u32 frame_sz,
					     struct xdp_rxq_info *rxq)
{
	xdp_init_buff(xdp, frame_sz, rxq);
}

__rust_helper void rust_helper_xdp_prepare_buff(struct xdp_buff *xdp,
						unsigned char *hard_start, int headroom,
						int data_len, const bool meta_valid)
{
	xdp_prepare_buff(xdp, hard_start, headroom, data_len, meta_valid);
}

__rust_helper bool rust_helper_xdp_buff_add_frag(struct xdp_buff *xdp, netmem_ref netmem,
						 u32 offset, u32 size, u32 truesize)
{
	return xdp_buff_add_frag(xdp, netmem, offset, size, truesize);
}

__rust_helper unsigned int rust_helper_xdp_get_buff_len(const struct xdp_buff *xdp)
{
	return xdp_get_buff_len(xdp);
}

__rust_helper struct xdp_frame *rust_helper_xdp_convert_buff_to_frame(struct xdp_buff *xdp)
{
	return xdp_convert_buff_to_frame(xdp);
}

__rust_helper struct skb_shared_info *
rust_helper_xdp_get_shared_info_from_frame(const struct xdp_frame *frame)
{
	return xdp_get_shared_info_from_frame(frame);
}

__rust_helper bool rust_helper_xdp_frame_has_frags(const struct xdp_frame *frame)
{
	return xdp_frame_has_frags(frame);
}

#ifndef CONFIG_BPF_SYSCALL
/* Without the bpf() system call no program is ever attached: these are the stubs. */
__rust_helper void rust_helper_bpf_prog_inc(struct bpf_prog *prog)
{
	bpf_prog_inc(prog);
}

__rust_helper void rust_helper_bpf_prog_put(struct bpf_prog *prog)
{
	bpf_prog_put(prog);
}
#endif
