"""Save a torchvision vgg19() state dict (random weights) and print samples.

Used by TestReadTorchvisionVGG19 (run with /usr/bin/python3, which has torch
and torchvision): torch.save(vgg19().state_dict(), argv[1]) writes ~550 MB
in the zip format, then one JSON object goes to stdout:

    {"keys": [[name, [shape...]], ...],          # state_dict order
     "samples": [[name, flat_index, value], ...]} # exact float32 values
"""

import json
import sys

import torch
import torchvision

torch.manual_seed(0)
sd = torchvision.models.vgg19().state_dict()
torch.save(sd, sys.argv[1])
samples = []
for k, t in sd.items():
    flat = t.reshape(-1)
    for i in sorted({0, 1, flat.numel() // 2, flat.numel() - 1}):
        samples.append([k, i, flat[i].item()])
json.dump({"keys": [[k, list(t.shape)] for k, t in sd.items()], "samples": samples}, sys.stdout)
