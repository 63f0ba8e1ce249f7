package model

import (
	"fmt"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// Backbone is a VGG-style feature extractor laid out as torchvision's
// nn.Sequential "features": each conv takes one index, its BatchNorm2d (the
// _bn variants) the next, its ReLU the next, each max-pool one. So the
// parameters are "<prefix>.features.<i>.weight" exactly where torchvision's
// state_dict has them. The VGG backbones stop after the ReLU of the last
// convolution (conv5_3 for VGG-16, conv5_4 for VGG-19): torchvision's final
// max-pool is left out, so the APN and the global pooling see conv5's
// full-resolution map (28×28 at 448 px).
type Backbone struct {
	layers      []layer
	OutChannels int64
}

type layer struct {
	conv *nn.Conv2d      // nil for a pool
	bn   *nn.BatchNorm2d // nil without batch norm
}

// NewBackbone registers the backbone's parameters under prefix + ".features.".
func NewBackbone(s *nn.Store, prefix string, cfg Config) (*Backbone, error) {
	l, bn, err := cfg.layers()
	if err != nil {
		return nil, err
	}
	b := &Backbone{}
	in, idx := int64(3), 0
	for _, v := range l {
		if v == Pool {
			b.layers = append(b.layers, layer{})
			idx++
			continue
		}
		name := fmt.Sprintf("%s.features.%d", prefix, idx)
		// torchvision VGG: kaiming_normal_(fan_out, relu), bias 0; BN weight 1, bias 0.
		c := nn.NewConv2d(s, name, in, v, 3, torch.Conv2dOpts{Padding: [2]int64{1, 1}}, true,
			nn.KaimingNormalFanOut, nn.Zeros)
		ly := layer{conv: c}
		idx += 2
		if bn {
			ly.bn = nn.NewBatchNorm2d(s, fmt.Sprintf("%s.features.%d", prefix, idx-1), v)
			idx++
		}
		b.layers = append(b.layers, ly)
		in = v
	}
	b.OutChannels = in
	return b, nil
}

// Forward maps x [N,3,H,W] to the last conv block's features [N,C,h,w]
// (after its ReLU). The memory format of x is kept (NHWC stays NHWC).
//
// Intermediate handles are freed as soon as the next layer has read them
// (autograd keeps what backward needs), as PyTorch's reference counting
// would: holding every activation to the end of the step raised the peak
// memory of a VGG-19 training step at 448 px from 2.8 to 3.8 GB (RSS).
func (b *Backbone) Forward(x *torch.Tensor, train bool) *torch.Tensor {
	cur := x
	next := func(y *torch.Tensor) {
		if cur != x {
			cur.Free()
		}
		cur = y
	}
	for _, l := range b.layers {
		if l.conv == nil {
			next(torch.MaxPool2d(cur, [2]int64{2, 2}, [2]int64{2, 2}, [2]int64{}, false))
			continue
		}
		next(l.conv.Forward(cur))
		if l.bn != nil {
			next(l.bn.Forward(cur, train))
		}
		cur.ReluInPlace() // cur is a fresh conv or BN output, as torchvision's inplace=True
	}
	return cur
}
