"""A PyTorch job that runs out of GPU memory: a growing batch through a
large MLP. Used by scripts/demo.sh on machines with a GPU."""
import torch

device = torch.device("cuda")
model = torch.nn.Sequential(*[torch.nn.Linear(8192, 8192) for _ in range(8)]).to(device)
batch = 1024
while True:
    print(f"batch size {batch}", flush=True)
    x = torch.randn(batch, 8192, device=device)
    model(x).sum().backward()
    batch *= 2
