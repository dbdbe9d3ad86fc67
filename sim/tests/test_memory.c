/* placeholder until the fit: replaced below */
int main (void) { return 0; }
