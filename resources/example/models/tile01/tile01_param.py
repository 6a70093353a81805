n_layers = 4
size_ratio = 0.25
activation = 'relu'
last_epoch = 124
early_stop = 40
