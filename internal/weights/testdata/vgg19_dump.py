"""Save torchvision VGG state dicts (random weights) and print samples.

Used by TestReadTorchvisionVGG19 (run with /usr/bin/python3, which has torch
and torchvision):

    vgg19_dump.py VGG19_PATH VGG16_PATH

writes torch.save(vgg19().state_dict(), VGG19_PATH) (~550 MB, zip format)
and torch.save(vgg16().features.state_dict() with keys prefixed
"features.", VGG16_PATH) (~59 MB; the classifier is left out, the import
skips it anyway), then prints one JSON object about the vgg19 file:

    {"keys": [[name, [shape...]], ...],           # state_dict order
     "samples": [[name, flat_index, value], ...]} # exact float32 values
"""

import collections
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

f16 = torchvision.models.vgg16().features.state_dict()
torch.save(collections.OrderedDict(("features." + k, v) for k, v in f16.items()), sys.argv[2])

json.dump({"keys": [[k, list(t.shape)] for k, t in sd.items()], "samples": samples}, sys.stdout)
