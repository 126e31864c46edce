__global__ void k(float* x){ x[threadIdx.x] *= 2.0f; }
__global__ void k2(float* x){ x[threadIdx.x] += 1.0f; }
int main(){return 0;}
