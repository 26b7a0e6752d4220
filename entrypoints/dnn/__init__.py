"""The PyTorch data-parallel DNN image: MNIST-format classification over hosts x processes."""
