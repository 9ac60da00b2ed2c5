module sagemaker-operator.local/pause

go 1.25
